"""The manual page, nhacviec(1), in mdoc, from the commands' own help.

    nhacviec --experimental-dump-help | python3 scripts/manual.py --date 2026-12-06 \
        --authors "NAME <ADDRESS>" --sections packaging/manual-sections.mdoc > nhacviec.1

swift-argument-parser's generate-manual drops every character outside ASCII (its escaping keeps
ASCII only), so the Vietnamese of the help texts ("Ngày Văn hóa Việt Nam") lost its letters. This
writes the same page in UTF-8, declared on its first line for man-db, with the sections the help
cannot say (ENVIRONMENT, FILES, EXIT STATUS, SEE ALSO) from --sections.
"""

import argparse
import json
import sys


def text(value):
    """One line of running text: roff's escape character doubled, and a line that would start
    with a control character made literal."""
    value = value.replace("\\", "\\e")
    if value.startswith((".", "'")):
        value = "\\&" + value
    return value


def argument_word(value):
    """A word given to a macro: quoted when it holds spaces, escaped as text."""
    value = value.replace("\\", "\\e").replace('"', '\\(dq')
    return f'"{value}"' if (" " in value or not value) else value


def paragraphs(value):
    """Running text, its blank lines as paragraph breaks and its other lines kept."""
    out = []
    for line in value.strip("\n").split("\n"):
        if not line.strip():
            if out and out[-1] != ".Pp":
                out.append(".Pp")
            continue
        out.append(text(line.rstrip()))
    return out


def name_of(name):
    return ("-" if name["kind"] == "short" else "--") + name["name"] if name["kind"] != "longWithSingleDash" \
        else "-" + name["name"]


def synopsis_item(argument):
    """An argument as the synopsis shows it: `Fl -config Ar FILE`, `Ar unit`."""
    if argument["kind"] == "positional":
        words = f"Ar {argument_word(argument.get('valueName', 'value'))}"
    else:
        preferred = argument.get("preferredName") or argument["names"][0]
        words = f"Fl {name_of(preferred)[1:]}"
        if argument["kind"] == "option":
            words += f" Ar {argument_word(argument.get('valueName', 'value'))}"
    if argument.get("isRepeating"):
        words += " No ..."
    return words


def item(argument):
    """An argument as the option list shows it: every name, then its value."""
    if argument["kind"] == "positional":
        head = f".It Ar {argument_word(argument.get('valueName', 'value'))}"
    else:
        names = [f"Fl {name_of(n)[1:]}" for n in argument["names"]]
        head = ".It " + " , ".join(names)
        if argument["kind"] == "option":
            head += f" Ar {argument_word(argument.get('valueName', 'value'))}"
    lines = [head]
    if argument.get("abstract"):
        lines.append(text(argument["abstract"]))
    if argument.get("discussion"):
        lines += paragraphs(argument["discussion"])
    return lines


def visible(arguments, top=True):
    """The arguments a reader is shown; --help and --version once, for the whole program."""
    shown = [a for a in arguments or [] if a.get("shouldDisplay", True)]
    if not top:
        shown = [a for a in shown if (a.get("preferredName") or {}).get("name") not in ("help", "version")]
    return shown


def command_body(command, top=False):
    """A command's text and its options, and its subcommands nested within."""
    lines = []
    if command.get("discussion"):
        lines += paragraphs(command["discussion"])
    arguments = visible(command.get("arguments"), top)
    subcommands = [s for s in command.get("subcommands") or [] if s.get("shouldDisplay", True)
                   and s["commandName"] != "help"]
    if arguments or subcommands:
        lines.append(".Bl -tag -width 6n")
        for argument in arguments:
            lines += item(argument)
        for subcommand in subcommands:
            lines.append(f".It Em {argument_word(subcommand['commandName'])}")
            if subcommand.get("abstract"):
                lines.append(text(subcommand["abstract"]))
            lines += command_body(subcommand)
        lines.append(".El")
    return lines


def main():
    options = argparse.ArgumentParser()
    options.add_argument("--date", required=True)
    options.add_argument("--authors", required=True)
    options.add_argument("--sections")
    arguments = options.parse_args()
    command = json.load(sys.stdin)["command"]
    name = command["commandName"]
    lines = [
        "'\\\" -*- coding: UTF-8 -*-",
        f".Dd {arguments.date}",
        f".Dt {name.upper()} 1",
        ".Os",
        ".Sh NAME",
        f".Nm {name}",
        f".Nd {text(command.get('abstract', ''))}",
        ".Sh SYNOPSIS",
        ".Nm",
    ]
    if command.get("subcommands"):
        lines.append(".Ar subcommand")
    for argument in visible(command.get("arguments")):
        item_words = synopsis_item(argument)
        lines.append(f".Op {item_words}" if argument.get("isOptional") else f".{item_words}")
    lines.append(".Sh DESCRIPTION")
    lines += command_body(command, top=True)
    if arguments.sections:
        with open(arguments.sections, encoding="utf-8") as f:
            lines += f.read().rstrip("\n").split("\n")
    lines += [".Sh AUTHORS", text(arguments.authors)]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
