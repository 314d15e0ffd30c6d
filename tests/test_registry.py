import pytest

from dlfrontier import Registry, UnknownNameError


def test_register_get_names():
    r: Registry[int] = Registry("thing")
    r.register("beta", 2)
    r.decorator("alpha")(1)
    assert r.get("alpha") == 1 and r.get("beta") == 2
    assert r.names() == ["alpha", "beta"] and len(r) == 2 and "beta" in r


def test_unknown_name_suggests_closest():
    r: Registry[int] = Registry("experiment")
    for n in ["dqn-cartpole", "ppo-cartpole", "sac-pendulum"]:
        r.register(n, 0)
    with pytest.raises(UnknownNameError) as e:
        r.get("dqn-cartpol")
    assert "unknown experiment 'dqn-cartpol'" in str(e.value) and "dqn-cartpole" in str(e.value)
    with pytest.raises(UnknownNameError) as e:
        r.get("zzzz")
    assert "choose one of: dqn-cartpole, ppo-cartpole, sac-pendulum" in str(e.value)


def test_duplicate_registration_is_an_error():
    r: Registry[int] = Registry("thing")
    r.register("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        r.register("a", 2)
