import asyncio

from gateway.dispatch.window import Window


async def _holders(window: Window, count: int) -> tuple[list[asyncio.Task[None]], asyncio.Event]:
    release = asyncio.Event()

    async def hold() -> None:
        async with window:
            await release.wait()

    tasks = [asyncio.create_task(hold()) for _ in range(count)]
    await asyncio.sleep(0)
    return tasks, release


async def test_a_new_window_lets_one_push_through() -> None:
    window = Window(max_size=8)
    tasks, release = await _holders(window, 5)
    assert window.in_flight == 1
    release.set()
    await asyncio.gather(*tasks)
    assert window.in_flight == 0


async def test_successes_double_it_up_to_the_maximum_and_a_failure_closes_it() -> None:
    window = Window(max_size=8)
    sizes = []
    for _ in range(5):
        window.succeeded()
        sizes.append(window.size)
    assert sizes == [2, 4, 8, 8, 8]
    tasks, release = await _holders(window, 12)
    assert window.in_flight == 8
    window.failed()
    release.set()
    await asyncio.gather(*tasks)
    assert window.size == 1
