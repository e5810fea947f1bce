"""The one Registry type every extension point uses."""

import pytest

from benchmark.errors import ConfigError
from benchmark.registry import Registry


def _positive(name: str, item: int) -> None:
    if item <= 0:
        raise ValueError(f"thing {name!r} must be positive")


def test_register_get_and_choices() -> None:
    things: Registry[int] = Registry("thing", "model.thing", check=_positive)
    assert things.register("b", 2) == 2
    things.register("a", 1)
    assert things.get("a") == 1 and "a" in things and "c" not in things
    assert things.names() == ["a", "b"] and list(things) == ["a", "b"] and len(things) == 2


def test_unknown_name_is_one_line_naming_field_value_and_choices() -> None:
    things: Registry[int] = Registry("thing", "model.thing")
    things.register("a", 1)
    things.register("b", 2)
    with pytest.raises(ConfigError) as err:
        things.get("c")
    assert str(err.value) == "model.thing: unknown value 'c'; choose from: a, b"
    with pytest.raises(ConfigError, match=r"^runs\[0\]\.thing: unknown value \['a'\]"):
        things.get(["a"], field="runs[0].thing")  # unhashable input is still a clean error


@pytest.mark.parametrize("name", ["", "a b", "a/b", "a\\b", 3, None])
def test_bad_names_are_refused(name: object) -> None:
    with pytest.raises(ValueError, match="thing name"):
        Registry("thing", "f").register(name, 1)  # type: ignore[arg-type]


def test_duplicates_and_failed_checks_leave_the_registry_unchanged() -> None:
    things: Registry[int] = Registry("thing", "f", check=_positive)
    things.register("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        things.register("a", 5)
    with pytest.raises(ValueError, match="positive"):
        things.register("b", -1)
    assert things.items() == [("a", 1)]


def test_decorator_registers_a_class_under_its_name() -> None:
    kinds: Registry[type] = Registry("kind", "f")

    @kinds.register
    class Loud:
        name = "loud"

    assert kinds.get("loud") is Loud
    kinds.unregister("loud")
    assert "loud" not in kinds
