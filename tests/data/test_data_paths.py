"""Finding the data directory: explicit path, then $POPULACE_DATA, then ../shared/data; clear errors otherwise."""

from pathlib import Path

import pytest

from populace.data import paths
from populace.data.paths import data_dir, source_file


def test_explicit_path_wins_over_environment(tmp_path, monkeypatch):
    (tmp_path / "env").mkdir()
    (tmp_path / "explicit").mkdir()
    monkeypatch.setenv("POPULACE_DATA", str(tmp_path / "env"))
    assert data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert data_dir() == tmp_path / "env"


def test_default_is_shared_data_next_to_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("POPULACE_DATA", raising=False)
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    assert data_dir().resolve() == (tmp_path / "shared" / "data").resolve()


def test_default_falls_back_to_shared_data_next_to_source_checkout(tmp_path, monkeypatch):
    monkeypatch.delenv("POPULACE_DATA", raising=False)
    monkeypatch.chdir(tmp_path)  # no ../shared/data here
    checkout = Path(paths.__file__).resolve().parents[3]
    assert paths._candidates()[1] == checkout.parent / "shared" / "data"


def test_explicit_choice_that_does_not_exist_is_an_error(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"nowhere \(from data_dir=\) does not exist.*POPULACE_DATA"):
        data_dir(tmp_path / "nowhere")
    monkeypatch.setenv("POPULACE_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=r"from \$POPULACE_DATA"):
        data_dir()


def test_no_directory_found_lists_what_was_tried(tmp_path, monkeypatch):
    monkeypatch.delenv("POPULACE_DATA", raising=False)
    monkeypatch.setattr(paths, "_candidates", lambda: [tmp_path / "a", tmp_path / "b"])
    with pytest.raises(FileNotFoundError, match=r"none of .*/a'.*/b'\] exists.*set the environment variable "
                                                r"POPULACE_DATA, or pass data_dir="):
        data_dir()


def test_missing_file_names_file_directory_and_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nyc/census/x\.csv not found in .* \(chosen by data_dir=\).*"
                                                r"POPULACE_DATA"):
        source_file("nyc/census/x.csv", tmp_path)
