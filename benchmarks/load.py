"""The hosted app under load: N concurrent sessions over Streamlit's own websocket protocol, then hostile uploads.

Run: python benchmarks/load.py [--sessions 1,4,8,16] [--settle 60]

It starts ``streamlit run app.py`` on a free loopback port (the hosted configuration: no local
paths), then for each N drives N sessions at once, each a raw websocket client speaking
Streamlit's protobuf messages (``BackMsg.rerun_script`` in, ``ForwardMsg`` deltas out, no browser):
every page is opened, then its bits slider moved twice. A view's time is from the request to the
``script_finished`` message, after the last figure has arrived. It prints per page and N the
median and p95, the server's RSS before, at its peak and ``--settle`` seconds after, and then an
adversarial round: the uploads of the hosting issue (a 0.5 MB ``.npz`` of 64M float64 zeros, a
1.6 KB ``.pt`` of an expanded 8192×8192 tensor, a safetensors file with a 98 MiB header), each
uploaded by its own session through the real upload endpoint, with the server's health checked
throughout. Exit status 1 when a target is missed:

* Playground p95 ≤ 2 s at N = 16;
* no page's median at N = 8 above 3× its N = 1 median;
* RSS after the adversarial round ≤ 4 GB, and the server up throughout.

Everything talks to 127.0.0.1 only, every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import psutil
import websocket
from streamlit.proto import BackMsg_pb2, ForwardMsg_pb2, WidgetStates_pb2

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["playground", "inspector", "calibrators", "layers", "formats", "integer"]
BITS = (4, 6)
TIMEOUT = 300.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self):
        self.port = free_port()
        env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
        env.pop("QVIZ_OPEN", None)
        env.pop("QVIZ_ALLOW_PATHS", None)
        self.log = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.ps = psutil.Process(self.proc.pid)
        deadline = time.time() + 120
        while not self.healthy():
            if time.time() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"the server did not start (log: {self.log.name})")
            time.sleep(0.5)
        self.peak = self.rss()
        self._stop = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def healthy(self) -> bool:
        try:
            return urllib.request.urlopen(self.url("/_stcore/health"), timeout=5).status == 200
        except OSError:
            return False

    def rss(self) -> int:
        return sum(p.memory_info().rss for p in [self.ps, *self.ps.children(recursive=True)])

    def _watch(self):
        while not self._stop.is_set() and self.proc.poll() is None:
            self.peak = max(self.peak, self.rss())
            time.sleep(0.2)

    def reset_peak(self):
        self.peak = self.rss()

    def close(self):
        self._stop.set()
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Session:
    """One browser tab, as Streamlit's websocket protocol sees it."""

    def __init__(self, server: Server):
        self.server = server
        req = urllib.request.Request(server.url("/_stcore/health"))  # sets the XSRF cookie the uploads need
        with urllib.request.urlopen(req, timeout=30) as r:
            cookies = r.headers.get_all("Set-Cookie") or []
        self.xsrf = next((c.split(";")[0].split("=", 1)[1] for c in cookies if c.startswith("_streamlit_xsrf=")), "")
        cookie = f"_streamlit_xsrf={self.xsrf}" if self.xsrf else None
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/_stcore/stream",
                                              subprotocols=["streamlit", self.xsrf] if self.xsrf else ["streamlit"],
                                              timeout=TIMEOUT, cookie=cookie)
        self.ids: dict[str, str] = {}  # widget key -> widget id, learned from the deltas
        self.session_id = ""
        self.errors: list[str] = []

    def run(self, page: str, widgets: list | None = None) -> tuple[float, int]:
        """Rerun ``page`` with ``widgets`` (WidgetState protos); (seconds to script_finished, figures drawn)."""
        msg = BackMsg_pb2.BackMsg()
        msg.rerun_script.page_name = page
        msg.rerun_script.query_string = ""
        for w in widgets or []:
            msg.rerun_script.widget_states.widgets.append(w)
        start = time.perf_counter()
        self.ws.send_binary(msg.SerializeToString())
        figures = 0
        deadline = start + TIMEOUT
        while time.perf_counter() < deadline:
            f = ForwardMsg_pb2.ForwardMsg()
            f.ParseFromString(self.ws.recv())
            kind = f.WhichOneof("type")
            if kind == "new_session":
                self.session_id = f.new_session.initialize.session_id or self.session_id
            elif kind == "delta" and f.delta.WhichOneof("type") == "new_element":
                el = f.delta.new_element
                which = el.WhichOneof("type")
                if which == "plotly_chart":
                    figures += 1
                elif which == "exception":
                    self.errors.append(el.exception.message[:200])
                inner = getattr(el, which, None) if which else None
                wid = getattr(inner, "id", "") if inner is not None else ""
                if isinstance(wid, str) and wid.startswith("$$ID-"):
                    self.ids[wid.rsplit("-", 1)[-1]] = wid
            elif kind == "script_finished" and f.script_finished != 2:  # 2: finished early for a rerun
                return time.perf_counter() - start, figures
        raise TimeoutError(f"{page}: no script_finished within {TIMEOUT:.0f} s")

    def slider(self, key: str, value: float):
        w = WidgetStates_pb2.WidgetStates().widgets.add()
        w.id = self.ids[key]
        w.double_array_value.data.append(float(value))
        return w

    def upload(self, page: str, name: str, data: bytes) -> tuple[float, int]:
        """Upload ``data`` through the real endpoint and select the "Upload" source on ``page``."""
        self.run(page)
        src = WidgetStates_pb2.WidgetStates().widgets.add()
        src.id = self.ids["src"]
        src.string_array_value.data.append("Upload")
        self.run(page, [src])
        req = BackMsg_pb2.BackMsg()
        req.file_urls_request.request_id = "r1"
        req.file_urls_request.file_names.append(name)
        req.file_urls_request.session_id = self.session_id
        self.ws.send_binary(req.SerializeToString())
        while True:
            f = ForwardMsg_pb2.ForwardMsg()
            f.ParseFromString(self.ws.recv())
            if f.WhichOneof("type") == "file_urls_response":
                urls = f.file_urls_response.file_urls[0]
                break
        boundary = "qvizloadboundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        put = urllib.request.Request(self.server.url(urls.upload_url), data=body, method="PUT", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "X-Xsrftoken": self.xsrf,
            "Cookie": f"_streamlit_xsrf={self.xsrf}"})
        urllib.request.urlopen(put, timeout=TIMEOUT).read()
        up = WidgetStates_pb2.WidgetStates().widgets.add()
        up.id = self.ids["upload"]
        info = up.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = name, len(data), urls.file_id
        info.file_urls.CopyFrom(urls)
        return self.run(page, [src, up])

    def close(self):
        self.ws.close()


def one_user(server: Server, results: dict, lock: threading.Lock):
    s = Session(server)
    try:
        for page in PAGES:
            times = [s.run(page)[0]]
            for bits in BITS:
                times.append(s.run(page, [s.slider("bits", bits)])[0])
            with lock:
                results.setdefault(page, []).extend(times)
                results.setdefault("_errors", []).extend(s.errors)
    finally:
        s.close()


def round_of(server: Server, n: int) -> dict:
    results: dict = {}
    lock = threading.Lock()
    threads = [threading.Thread(target=one_user, args=(server, results, lock)) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * len(PAGES) * 3)
    return results


def p95(v: list) -> float:
    return float(np.percentile(v, 95))


def hostile_files() -> dict:
    import torch

    npz = io.BytesIO()
    np.savez_compressed(npz, z=np.zeros(1 << 26, np.float64))
    pt = io.BytesIO()
    torch.save({"w": torch.zeros(1).expand(8192, 8192)}, pt)
    entries = ",".join(f'"t{i}":{{"dtype":"F32","shape":[1],"data_offsets":[{4 * i},{4 * i + 4}]}}' for i in range(1_160_000))
    header = ("{" + entries + "}").encode()
    n = len(header)
    st_bytes = n.to_bytes(8, "little") + header + bytes(4 * 1_160_000)
    return {"bomb.npz": npz.getvalue(), "expand.pt": pt.getvalue(), "huge_header.safetensors": st_bytes}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", default="1,4,8,16")
    ap.add_argument("--settle", type=float, default=60.0)
    a = ap.parse_args()
    ns = [int(v) for v in a.sessions.split(",")]
    server = Server()
    ok = True
    table = {}
    try:
        warm = round_of(server, 1)  # first views load torch, the models and numba; not counted
        if warm.get("_errors"):
            print("errors on the warm-up round:", warm["_errors"][:3])
        print(f"server RSS idle after warm-up: {server.rss() / 2**20:,.0f} MB")
        print(f"{'N':>3} {'page':<12} {'median s':>9} {'p95 s':>7}   RSS before / peak / after {a.settle:.0f} s (MB)")
        for n in ns:
            before = server.rss()
            server.reset_peak()
            res = round_of(server, n)
            peak = server.peak
            time.sleep(a.settle)
            after = server.rss()
            for page in PAGES:
                v = res.get(page, [])
                if not v:
                    print(f"{n:>3} {page:<12} {'—':>9}")
                    ok = False
                    continue
                table[(n, page)] = (statistics.median(v), p95(v))
                print(f"{n:>3} {page:<12} {statistics.median(v):>9.2f} {p95(v):>7.2f}")
            print(f"{'':>3} {'RSS':<12} {before / 2**20:,.0f} / {peak / 2**20:,.0f} / {after / 2**20:,.0f}"
                  + (f"   page errors: {res['_errors'][:2]}" if res.get("_errors") else ""))
            if not server.healthy():
                print("the server is down")
                return 1
        if (16, "playground") in table and table[(16, "playground")][1] > 2.0:
            print(f"MISSED: Playground p95 at N=16 is {table[(16, 'playground')][1]:.2f} s (target ≤ 2 s)")
            ok = False
        for page in PAGES:
            if (8, page) in table and (1, page) in table and table[(8, page)][0] > 3 * table[(1, page)][0]:
                print(f"MISSED: {page} median at N=8 is {table[(8, page)][0] / table[(1, page)][0]:.1f}× its N=1 median (target ≤ 3×)")
                ok = False

        print("adversarial round (each upload in its own session, at once):")
        files = hostile_files()
        before = server.rss()
        server.reset_peak()
        outcome: dict = {}

        def attack(name, data):
            s = Session(server)
            try:
                t, figs = s.upload("inspector", name, data)
                outcome[name] = f"{t:.1f} s, {figs} figures" + (f", page error: {s.errors[0][:80]}" if s.errors else "")
            except Exception as e:  # noqa: BLE001 - reported, the round goes on
                outcome[name] = f"{type(e).__name__}: {str(e)[:120]}"
            finally:
                s.close()

        threads = [threading.Thread(target=attack, args=kv) for kv in files.items()]
        for t in threads:
            t.start()
        up = True
        while any(t.is_alive() for t in threads):
            up &= server.healthy()
            time.sleep(1)
        for name, text in outcome.items():
            print(f"  {name:<26} {len(files[name]) / 2**20:>8.2f} MB upload → {text}")
        time.sleep(a.settle)
        after = server.rss()
        print(f"  RSS before / peak / after {a.settle:.0f} s: {before / 2**20:,.0f} / {server.peak / 2**20:,.0f} / {after / 2**20:,.0f} MB;"
              f" server up throughout: {up and server.healthy()}")
        if after > 4 * 2**30 or not (up and server.healthy()):
            print("MISSED: RSS after the adversarial round ≤ 4 GB with the server up")
            ok = False
    finally:
        server.close()
    print("all targets met" if ok else "some targets missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
