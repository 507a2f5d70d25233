"""Prompt templates: parsing, the shipped files, and one specific error per kind of bad template or rendering."""

import pytest

from populace.behavior import PromptTemplate, TemplateError, package_template, package_template_names

COVID = "populace.models.covid_nyc"
GOOD = "version: test@2\noptions: Yes, No, Maybe\nyes: Yes\n---\nYou are {who}. Will you {act}? {{braces}} {who}\n"


def test_parse_reads_header_fields_and_renders():
    t = PromptTemplate.parse(GOOD, name="good.txt")
    assert (t.version, t.options, t.yes_option, t.yes_index) == ("test@2", ("Yes", "No", "Maybe"), "Yes", 0)
    assert t.fields == ("who", "act")  # in order of first use, each once
    assert t.render(who="a nurse", act="stay home") == "You are a nurse. Will you stay home? {braces} a nurse"


def test_builtin_templates_ship_and_parse():
    assert set(package_template_names(COVID)) >= {"isolate", "go_to_work"}
    isolate = package_template(COVID, "isolate")
    assert isolate.version == "isolate@1"
    assert isolate.options == ("yes", "no")
    assert set(isolate.fields) == {"description", "symptoms", "local_cases", "case_trend"}
    assert package_template(COVID, "go_to_work").fields == ("description", "work_orders")


@pytest.mark.parametrize(("source", "match"), [
    ("version: v\noptions: yes, no\nyes: yes\nhello {x}", "no line '---'"),
    ("version: v\nanswers: yes, no\nyes: yes\n---\nhi", "unknown header key 'answers'"),
    ("version: v\nversion: w\noptions: yes, no\nyes: yes\n---\nhi", "'version' is given twice"),
    ("options: yes, no\nyes: yes\n---\nhi", "the header has no 'version'"),
    ("version: v\nyes no\n---\nhi", "expected 'key: value'"),
    ("version: v\noptions: yes\nyes: yes\n---\nhi", "at least two options"),
    ("version: v\noptions: yes, , no\nyes: yes\n---\nhi", "an option is empty"),
    ("version: v\noptions: Yes, yes\nyes: Yes\n---\nhi", r"differ ignoring case; \['yes'\]"),
    ("version: v\noptions: yes, no\nyes: sure\n---\nhi", "'yes' option 'sure' is not one of the options"),
    ("version: v\noptions: yes, no\nyes: yes\n---\n  \n", "prompt text after '---' is empty"),
    ("version: v\noptions: yes, no\nyes: yes\n---\nYou are {who", "unbalanced braces"),
    ("version: v\noptions: yes, no\nyes: yes\n---\n{p:.2f}", "is not a plain {name}"),
    ("version: v\noptions: yes, no\nyes: yes\n---\n{a.b}", "is not a plain {name}"),
])
def test_bad_templates_say_what_is_wrong(source, match):
    with pytest.raises(TemplateError, match=match):
        PromptTemplate.parse(source, name="bad.txt")


def test_render_names_missing_and_unknown_fields():
    t = PromptTemplate.parse(GOOD)
    with pytest.raises(TemplateError, match=r"no value for the field\(s\) \['act'\]"):
        t.render(who="a nurse")
    with pytest.raises(TemplateError, match=r"has no field\(s\) \['where'\]"):
        t.render(who="a", act="b", where="c")


def test_check_fields_refuses_unknown_and_left_out_fields():
    t = PromptTemplate.parse(GOOD, name="good.txt")
    with pytest.raises(TemplateError, match=r"uses the field\(s\) \['act'\], which this decision does not provide"):
        t.check_fields(["who", "symptoms"])
    with pytest.raises(TemplateError, match=r"does not use the field\(s\) \['symptoms'\].*\{symptoms\}"):
        t.check_fields(["who", "act", "symptoms"], required=["symptoms"])
    t.check_fields(["who", "act", "extra"], required=["who"])  # fine: every slot known, every required one used


def test_files_and_names(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text(GOOD, encoding="utf-8")
    assert PromptTemplate.from_file(path).name == "mine.txt"
    with pytest.raises(FileNotFoundError, match=r"no prompt template file .*missing\.txt; for the templates a model"):
        PromptTemplate.from_file(tmp_path / "missing.txt")
    with pytest.raises(KeyError, match=r"'populace\.models\.covid_nyc' ships no prompt template 'isolation' \(it "
                                       r"ships: go_to_work, isolate\)"):
        package_template(COVID, "isolation")
    with pytest.raises(FileNotFoundError, match=r"package 'populace\.behavior' ships no prompt templates"):
        package_template_names("populace.behavior")


def test_a_template_of_k_options_needs_no_yes():
    t = PromptTemplate.parse("version: harvest@1\noptions: low, medium, high\n---\nYou are {description}. Harvest?")
    assert (t.options, t.yes_option, t.yes_index) == (("low", "medium", "high"), None, None)
