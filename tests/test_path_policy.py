"""The local-path policy (qviz.path_policy): hosted servers read no paths; others only under their root, symlinks included."""

from __future__ import annotations

import os

import pytest

from qviz.path_policy import ALLOW_ENV, OPEN_ENV, PathRefused, allowed_root, is_under, resolve, stamp


@pytest.fixture
def tree(tmp_path):
    """root/ (the allowed folder) with a model folder and a file; secret/ outside it."""
    root, secret = tmp_path / "root", tmp_path / "secret"
    (root / "llama").mkdir(parents=True)
    secret.mkdir()
    (root / "llama" / "model.safetensors").write_bytes(b"x")
    (root / "w.npy").write_bytes(b"y")
    (secret / "key.safetensors").write_bytes(b"z")
    (tmp_path / "root2").mkdir()  # a sibling whose name starts with the root's
    (tmp_path / "root2" / "m.pt").write_bytes(b"w")
    return os.path.realpath(root), os.path.realpath(secret)


def test_hosted_configuration_reads_no_paths():
    assert allowed_root({}) is None
    assert allowed_root({ALLOW_ENV: "  "}) is None
    assert allowed_root({OPEN_ENV: "digits_cnn"}) is None  # a built-in name is not a path


def test_roots(tree, tmp_path):
    root, _ = tree
    assert allowed_root({ALLOW_ENV: root}) == root
    assert allowed_root({ALLOW_ENV: str(tmp_path / "root" / "..") + "/root"}) == root  # normalised
    assert allowed_root({OPEN_ENV: os.path.join(root, "w.npy")}) == os.path.join(root, "w.npy")  # qviz app FILE alone: that file
    with pytest.raises(PathRefused, match=f"^{ALLOW_ENV}=.*not an existing folder"):
        allowed_root({ALLOW_ENV: str(tmp_path / "missing")})


def test_paths_under_the_root(tree):
    root, _ = tree
    assert resolve(os.path.join(root, "llama"), root) == os.path.join(root, "llama")
    assert resolve("llama/model.safetensors", root) == os.path.join(root, "llama", "model.safetensors")  # relative to the root
    assert resolve("llama/../w.npy", root) == os.path.join(root, "w.npy")  # .. that stays inside is fine
    assert resolve(root, root) == root


@pytest.mark.parametrize("path", ["../secret/key.safetensors", "llama/../../secret", "/etc/passwd", "../root2/m.pt", "/"])
def test_escapes_are_refused_in_one_line(tree, path):
    root, _ = tree
    with pytest.raises(PathRefused) as e:
        resolve(path, root)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{path}: is outside the folder this app may read ({root})")


def test_symlinks_that_leave_the_root_are_refused(tree):
    root, secret = tree
    os.symlink(os.path.join(secret, "key.safetensors"), os.path.join(root, "link.safetensors"))
    os.symlink(secret, os.path.join(root, "linked_dir"))
    for p in ("link.safetensors", os.path.join(root, "link.safetensors"), "linked_dir", "linked_dir/key.safetensors"):
        with pytest.raises(PathRefused, match="is outside the folder"):
            resolve(p, root)
    # a model folder inside the root whose shard is a symlink to a file outside: the folder is refused
    os.symlink(os.path.join(secret, "key.safetensors"), os.path.join(root, "llama", "model-00002-of-00002.safetensors"))
    with pytest.raises(PathRefused, match="model-00002-of-00002.safetensors links outside"):
        resolve("llama", root)
    (open(os.path.join(root, "llama", "model.safetensors.index.json"), "w")).close()
    with pytest.raises(PathRefused, match="links outside"):  # an index opens its siblings: same check
        resolve("llama/model.safetensors.index.json", root)
    assert resolve("llama/model.safetensors", root)  # a plain file opens nothing else


def test_symlinks_inside_the_root_are_followed(tree):
    root, _ = tree
    os.symlink(os.path.join(root, "w.npy"), os.path.join(root, "alias.npy"))
    assert resolve("alias.npy", root) == os.path.join(root, "w.npy")  # the file opened is the file checked


def test_missing_and_empty(tree):
    root, _ = tree
    with pytest.raises(PathRefused, match="does not exist"):
        resolve("nope.safetensors", root)
    with pytest.raises(PathRefused, match="no path given"):
        resolve("  ", root)
    with pytest.raises(PathRefused, match="not a valid path"):
        resolve("a\x00b", root)


def test_a_single_opened_file_allows_only_itself(tree):
    root, _ = tree
    only = os.path.join(root, "w.npy")
    assert resolve(only, only) == only
    with pytest.raises(PathRefused, match="outside"):
        resolve(os.path.join(root, "llama"), only)


def test_is_under():
    assert is_under("/a/b", "/a") and is_under("/a", "/a") and is_under("/x", "/")
    assert not is_under("/ab", "/a") and not is_under("/", "/a")


def test_stamp_changes_when_a_byte_changes(tree):
    root, _ = tree
    f = os.path.join(root, "llama", "model.safetensors")
    before_file, before_dir = stamp(f), stamp(os.path.join(root, "llama"))
    st = os.stat(f)
    with open(f, "r+b") as fh:  # same size, one byte changed
        fh.write(b"q")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert stamp(f) != before_file and stamp(os.path.join(root, "llama")) != before_dir
    assert stamp(f) == stamp(f)
