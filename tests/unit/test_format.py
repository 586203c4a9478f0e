"""`rafka format` and meta.properties: identity is written once, refused for
another node or cluster, idempotent for the same identity."""

from __future__ import annotations

import base64
import json
import random
import subprocess
import sys

import pytest

from rafka.broker.node import meta_properties as mp


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "rafka.broker.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_new_cluster_id_is_base64url_of_16_bytes():
    """Cluster ids look like Kafka's: 22 base64url chars decoding to 16 bytes."""
    cid = mp.new_cluster_id(random.Random(7))
    assert len(cid) == 22 and "=" not in cid
    assert len(base64.urlsafe_b64decode(cid + "==")) == 16
    assert mp.validate_cluster_id(cid) == cid
    assert mp.new_cluster_id(random.Random(7)) == cid
    assert mp.new_cluster_id() != mp.new_cluster_id()


def test_format_writes_identity_and_is_idempotent(tmp_path):
    """The first format writes meta.properties; the same identity again changes nothing."""
    d = tmp_path / "n1"
    ident, written = mp.format_dir(d, 1)
    assert written
    assert mp.read(d) == ident
    again, written_again = mp.format_dir(d, 1, ident.cluster_id)
    assert again == ident and not written_again
    assert mp.check_identity(d, 1) == ident


def test_format_refuses_another_node_or_cluster(tmp_path):
    d = tmp_path / "n1"
    ident, _ = mp.format_dir(d, 1)
    with pytest.raises(mp.MetaPropertiesError) as info:
        mp.format_dir(d, 2)
    assert info.value.code == "INCONSISTENT_NODE_ID"
    with pytest.raises(mp.MetaPropertiesError) as info:
        mp.format_dir(d, 1, mp.new_cluster_id())
    assert info.value.code == "INCONSISTENT_CLUSTER_ID"
    assert mp.read(d) == ident  # unchanged


def test_format_refuses_metadata_without_identity(tmp_path):
    """A directory holding a Raft log but no meta.properties is not silently adopted."""
    (tmp_path / "metadata").mkdir()
    with pytest.raises(mp.MetaPropertiesError, match="holds metadata"):
        mp.format_dir(tmp_path, 1)


def test_check_identity_refuses_unformatted_and_foreign_dirs(tmp_path):
    with pytest.raises(mp.MetaPropertiesError) as info:
        mp.check_identity(tmp_path, 1)
    assert info.value.code == "UNFORMATTED_DATA_DIR"
    mp.format_dir(tmp_path, 3)
    with pytest.raises(mp.MetaPropertiesError) as info:
        mp.check_identity(tmp_path, 1)
    assert info.value.code == "INCONSISTENT_NODE_ID"


def test_corrupt_meta_properties_is_a_typed_error(tmp_path):
    (tmp_path / mp.FILE_NAME).write_text("cluster.id=x\nversion=1\n")
    with pytest.raises(mp.MetaPropertiesError, match="node.id"):
        mp.read(tmp_path)
    (tmp_path / mp.FILE_NAME).write_text("garbage line\n")
    with pytest.raises(mp.MetaPropertiesError):
        mp.read(tmp_path)


def test_invalid_cluster_id_is_refused():
    for bad in ["abc", "=" * 22, "A" * 21 + "!", "A" * 23]:
        with pytest.raises(mp.MetaPropertiesError):
            mp.validate_cluster_id(bad)


def test_cli_format_json_and_one_line_errors(tmp_path):
    """The CLI prints the identity, is idempotent, and refuses another node in one line."""
    d = str(tmp_path / "n1")
    first = cli("format", "--dir", d, "--node-id", "1", "--json")
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert out["node_id"] == 1 and out["formatted"] is True
    second = cli("format", "--dir", d, "--node-id", "1", "--cluster-id", out["cluster_id"], "--json")
    assert second.returncode == 0 and json.loads(second.stdout)["formatted"] is False
    bad = cli("format", "--dir", d, "--node-id", "2")
    assert bad.returncode != 0
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "INCONSISTENT_NODE_ID" in bad.stderr


def test_new_cluster_ids_never_start_with_a_dash():
    """Goal: a generated cluster id can be passed as `--cluster-id ID` on a
    command line (seen: a jepsen run failed to format with an id like '-x...')."""
    import random

    from rafka.broker.node.meta_properties import new_cluster_id, validate_cluster_id

    rng = random.Random(5)
    ids = [new_cluster_id(rng) for _ in range(2000)]
    assert all(not i.startswith("-") for i in ids)
    assert all(validate_cluster_id(i) == i for i in ids)


def test_format_accepts_a_cluster_id_with_a_leading_dash_in_equals_form(tmp_path):
    """Goal: an existing cluster id that starts with '-' still works via --cluster-id=ID."""
    d = str(tmp_path / "n1")
    cid = "-" + "A" * 21
    proc = cli("format", "--dir", d, "--node-id", "1", f"--cluster-id={cid}", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["cluster_id"] == cid


def test_format_refuses_node_ids_beyond_int32(tmp_path):
    """Goal: node ids are Kafka's int32 (1..2**31-1): a larger id is refused
    with INVALID_NODE_ID and no directory is created; the maximum is fine;
    a meta.properties carrying a larger id is corrupt."""
    with pytest.raises(mp.MetaPropertiesError) as info:
        mp.format_dir(tmp_path / "big", 2**31)
    assert info.value.code == "INVALID_NODE_ID"
    assert not (tmp_path / "big").exists()
    ident, written = mp.format_dir(tmp_path / "top", 2**31 - 1)
    assert written and mp.check_identity(tmp_path / "top", 2**31 - 1) == ident
    (tmp_path / "top" / mp.FILE_NAME).write_text(
        f"cluster.id={ident.cluster_id}\nnode.id={2**31}\nversion=1\n"
    )
    with pytest.raises(mp.MetaPropertiesError) as info:
        mp.read(tmp_path / "top")
    assert info.value.code == "CORRUPT_META_PROPERTIES"


def test_cli_format_refuses_a_huge_node_id_in_one_line(tmp_path, capsys):
    """Goal: `rafka format --node-id 99999999999999999999` exits non-zero with
    one INVALID_NODE_ID line and writes nothing (it used to succeed)."""
    from rafka.broker.cli.main import main

    d = tmp_path / "n1"
    d.mkdir()
    assert main(["format", "--dir", str(d), "--node-id", "99999999999999999999"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: INVALID_NODE_ID:") and "\n" not in err
    assert list(d.iterdir()) == []
