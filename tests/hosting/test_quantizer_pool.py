"""Model impact without a global lock: a computation never shares its ModelQuantizer, and models never wait for each other."""

from __future__ import annotations

import threading
import time

from ui.impact import QuantizerPool


def test_concurrent_users_get_private_quantizers_up_to_the_pool_size():
    made = []
    pool = QuantizerPool(lambda: made.append(object()) or made[-1], size=2)
    inside, release = threading.Barrier(3), threading.Event()
    used = []

    def user():
        with pool.use() as mq:
            used.append(mq)
            inside.wait(5)
            release.wait(5)

    threads = [threading.Thread(target=user) for _ in range(2)]
    for t in threads:
        t.start()
    inside.wait(5)  # both computations run at the same time…
    assert len(used) == 2 and used[0] is not used[1]  # …each on its own quantizer
    third = []
    t3 = threading.Thread(target=lambda: third.append(pool.use().__enter__()))
    t3.start()
    time.sleep(0.2)
    assert not third  # a third waits for one to come back instead of sharing
    release.set()
    for t in threads:
        t.join(5)
    t3.join(5)
    assert third and third[0] in used and len(made) == 2


def test_different_models_do_not_wait_for_each_other():
    slow, fast = QuantizerPool(lambda: "minilm", size=1), QuantizerPool(lambda: "digits", size=1)
    holding = threading.Event()

    def long_run():
        with slow.use():
            holding.set()
            time.sleep(3.0)

    t = threading.Thread(target=long_run)
    t.start()
    holding.wait(5)
    start = time.perf_counter()
    with fast.use() as mq:
        assert mq == "digits"
    assert time.perf_counter() - start < 1.5  # no global lock behind the MiniLM run
    t.join(5)
