"""The harness itself: what Stack promises every other test."""

from harness import FakeAPI, Stack, stop_process


class Thing:
    """Something to start: notes in log when it stops; fails to start when
    told to."""

    def __init__(self, log, name, fail=False):
        if fail:
            raise RuntimeError("%s did not start" % name)
        self.log, self.name = log, name

    def stop(self):
        self.log.append(self.name)


def test_stack_stops_the_last_started_first_however_the_block_ends(d):
    log = []
    with Stack() as s:
        s.start(Thing(log, "fake"))
        s.start(Thing(log, "collectd"))
    assert log == ["collectd", "fake"], log

    # An assertion that fails in the block: both are stopped, and the
    # AssertionError is what the test sees.
    log = []
    try:
        with Stack() as s:
            s.start(Thing(log, "fake"))
            s.start(Thing(log, "collectd"))
            assert False, "the test's own failure"
    except AssertionError as e:
        assert str(e) == "the test's own failure", e
    else:
        raise AssertionError("the failure was swallowed")
    assert log == ["collectd", "fake"], log

    # A start that fails halfway: what started before it is stopped.
    log = []
    try:
        with Stack() as s:
            s.start(Thing(log, "fake"))
            s.start(Thing(log, "collectd", fail=True))
    except RuntimeError as e:
        assert "collectd did not start" in str(e), e
    else:
        raise AssertionError("the failed start was swallowed")
    assert log == ["fake"], log


def test_a_fake_stopped_by_the_test_is_stopped_again_harmlessly(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {}, cert=None))
        assert fake.stats()["requests"] == 0
        fake.stop()
        assert fake.proc.poll() is not None
    assert fake.proc.returncode is not None
    stop_process(fake.proc)  # a third time: still nothing to do
