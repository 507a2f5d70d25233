r"""`PromptTemplate`: one decision's prompt, read from a file, with a version string and the answer options.

A template file is a short header of `key: value` lines, a line `---`, then the prompt text with `{field}` slots:

    version: harvest@1
    options: low, medium, high
    ---
    You are {description}. {stock} {others}
    How much will you fish this season? Answer low, medium or high.

Header keys: `version` (changes whenever the wording changes, so cached answers of the old wording are not
reused), `options` (the answers offered, comma-separated, at least two, distinct ignoring case: the decision's
options, in the order of its probabilities), and optionally `yes` (which option means "yes", for a yes/no
question). The slots are filled by `render(**fields)`; `{{` and `}}` write braces. Everything is checked when the
file is read, and a missing or unknown field when the prompt is rendered: each error names the file, the field or
key, and what would fix it. A model ships its templates as package data in a `templates/` folder:
`package_template("populace.models.covid_nyc", "isolate")`.
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

HEADER_KEYS = ("version", "options", "yes")
REQUIRED_KEYS = ("version", "options")
SEPARATOR = "---"


class TemplateError(ValueError):
    """A prompt template is malformed, or was rendered with missing or unknown fields."""


@dataclasses.dataclass(frozen=True)
class PromptTemplate:
    """A validated prompt template (build it with `PromptTemplate.parse` or `.from_file`).

    Attributes:
        name: where it came from (the file name), for error messages.
        version: the template version, part of every answer's cache key.
        options: the answer options, in order.
        yes_option: the option that means "yes" (None when the header names none).
        text: the prompt text with `{field}` slots.
        fields: the slots of `text`, in order of first use.
    """

    name: str
    version: str
    options: tuple[str, ...]
    yes_option: str | None
    text: str
    fields: tuple[str, ...]

    @property
    def yes_index(self) -> int | None:
        """Position of the "yes" option in `options` (None without one)."""
        return None if self.yes_option is None else self.options.index(self.yes_option)

    @classmethod
    def parse(cls, source: str, *, name: str = "<template>") -> PromptTemplate:
        """Read a template from its text (header, `---`, prompt); a `TemplateError` names what is wrong."""
        lines = source.splitlines()
        try:
            cut = next(i for i, line in enumerate(lines) if line.strip() == SEPARATOR)
        except StopIteration:
            raise TemplateError(f"template {name}: no line '{SEPARATOR}' between the header ({', '.join(HEADER_KEYS)})"
                                " and the prompt text; see populace.behavior.templates for the format") from None
        header: dict[str, str] = {}
        for number, line in enumerate(lines[:cut], start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            key, colon, value = line.partition(":")
            key = key.strip()
            if not colon:
                raise TemplateError(f"template {name}, line {number}: expected 'key: value', got {line!r}")
            if key not in HEADER_KEYS:
                raise TemplateError(f"template {name}, line {number}: unknown header key {key!r} (valid keys: "
                                    f"{', '.join(HEADER_KEYS)})")
            if key in header:
                raise TemplateError(f"template {name}, line {number}: header key {key!r} is given twice")
            header[key] = value.strip()
        missing = [key for key in REQUIRED_KEYS if not header.get(key)]
        if missing:
            raise TemplateError(f"template {name}: the header has no {', '.join(repr(k) for k in missing)} (it needs "
                                "version: ... and options: a, b; yes: a is optional)")
        options = tuple(option.strip() for option in header["options"].split(","))
        _check_options(options, name)
        yes = header.get("yes") or None
        if yes is not None and yes not in options:
            raise TemplateError(f"template {name}: the 'yes' option {yes!r} is not one of the options {list(options)}")
        text = "\n".join(lines[cut + 1:]).strip()
        if not text:
            raise TemplateError(f"template {name}: the prompt text after '{SEPARATOR}' is empty")
        return cls(name=name, version=header["version"], options=options, yes_option=yes, text=text,
                   fields=_fields(text, name))

    @classmethod
    def from_file(cls, path: str | Path) -> PromptTemplate:
        """Read and check a template file."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no prompt template file {path}; for the templates a model ships, use "
                                    "populace.behavior.package_template(package, name)")
        return cls.parse(path.read_text(encoding="utf-8"), name=path.name)

    def check_fields(self, available: Iterable[str], *, required: Iterable[str] = ()) -> None:
        """Refuse a template that uses a field not in `available`, or leaves out one of `required`.

        A decision calls this once, when it is built: `available` are the fields it can fill, `required` those its
        archetypes and situations are split on (a prompt that leaves one out would ask two groups the same thing).
        """
        available = tuple(available)
        unknown = [f for f in self.fields if f not in available]
        if unknown:
            raise TemplateError(f"template {self.name} uses the field(s) {unknown}, which this decision does not "
                                f"provide (it provides: {', '.join(available)}); rename the slot or add the field")
        left_out = [f for f in required if f not in self.fields]
        if left_out:
            raise TemplateError(f"template {self.name} does not use the field(s) {left_out}, although agents are "
                                f"grouped by them: groups that differ only there would get the same prompt; add "
                                f"{', '.join('{' + f + '}' for f in left_out)} to the prompt text")

    def render(self, **fields: str) -> str:
        """The prompt with every slot filled; a `TemplateError` names a missing or unknown field."""
        missing = [f for f in self.fields if f not in fields]
        if missing:
            raise TemplateError(f"template {self.name}: no value for the field(s) {missing} (given: "
                                f"{', '.join(fields) or 'none'})")
        unknown = sorted(set(fields) - set(self.fields))
        if unknown:
            raise TemplateError(f"template {self.name} has no field(s) {unknown} (its fields: "
                                f"{', '.join(self.fields)})")
        return self.text.format(**fields)


def _check_options(options: tuple[str, ...], name: str) -> None:
    if len(options) < 2:
        raise TemplateError(f"template {name}: needs at least two options, comma-separated (e.g. 'options: yes, no'), "
                            f"got {list(options)}")
    if any(not option for option in options):
        raise TemplateError(f"template {name}: an option is empty in {list(options)} (a stray comma?)")
    folded = [option.casefold() for option in options]
    repeated = sorted({o for o in folded if folded.count(o) > 1})
    if repeated:
        raise TemplateError(f"template {name}: options must differ ignoring case; {repeated} appear more than once")


def _fields(text: str, name: str) -> tuple[str, ...]:
    fields: list[str] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        raise TemplateError(f"template {name}: the prompt text has unbalanced braces ({error}); write {{{{ and }}}} "
                            "for literal braces") from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise TemplateError(f"template {name}: slot {{{field}{'!' + conversion if conversion else ''}"
                                f"{':' + spec if spec else ''}}} is not a plain {{name}} (a Python identifier with "
                                "no format spec)")
        if field not in fields:
            fields.append(field)
    return tuple(fields)


def package_template_names(package: str) -> tuple[str, ...]:
    """The names of the templates that `package` ships in its `templates/` folder (file names without `.txt`)."""
    folder = resources.files(package) / "templates"
    if not folder.is_dir():
        raise FileNotFoundError(f"package {package!r} ships no prompt templates (no folder {folder}); put them in a "
                                "templates/ folder next to its __init__.py, listed as package data")
    return tuple(sorted(p.name.removesuffix(".txt") for p in folder.iterdir() if p.name.endswith(".txt")))


def package_template(package: str, name: str) -> PromptTemplate:
    """The template `name` that `package` ships, e.g. `package_template("populace.models.covid_nyc", "isolate")`."""
    names = package_template_names(package)
    if name not in names:
        raise KeyError(f"package {package!r} ships no prompt template {name!r} (it ships: {', '.join(names)}); for "
                       "your own file, use PromptTemplate.from_file(path)")
    source = (resources.files(package) / "templates" / f"{name}.txt").read_text(encoding="utf-8")
    return PromptTemplate.parse(source, name=f"{name}.txt")
