from gateway.dispatch.window import Window


def fill(window: Window, wanted: int) -> int:
    """Take up to `wanted` places while the window has room; returns the places taken."""
    taken = 0
    while taken < wanted and window.has_room:
        window.in_flight += 1
        taken += 1
    return taken


def test_a_new_window_lets_one_push_through() -> None:
    window = Window(max_size=8)
    assert fill(window, 5) == 1
    assert window.in_flight == 1
    window.in_flight -= 1
    assert window.in_flight == 0 and window.has_room


def test_successes_double_it_up_to_the_maximum_and_a_failure_closes_it() -> None:
    window = Window(max_size=8)
    sizes = []
    for _ in range(5):
        window.succeeded()
        sizes.append(window.size)
    assert sizes == [2, 4, 8, 8, 8]
    assert fill(window, 12) == 8
    window.failed()
    window.in_flight = 0
    assert window.size == 1
    assert fill(window, 12) == 1
