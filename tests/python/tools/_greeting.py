"""A helper module the tool files import; files starting with _ are not searched for tools."""


def salutation():
    return "Hello"
