"""ecsflow.redact: stable keyed pseudonyms for account ids and public IPs, same frame kind."""

from __future__ import annotations

import ipaddress

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import ecsflow
from ecsflow.redact import pseudonym_account, pseudonym_ip, redact
from tests.conftest import SAMPLES

FLOWS = pl.DataFrame(
    {
        "account_id": ["123456789012", "210987654321", None],
        "srcaddr": ["10.0.0.1", "54.239.28.85", "2600:1f18::1"],
        "dstaddr": ["8.8.8.8", "fe80::1", "100.64.0.1"],
        "ecs_cluster_arn": [
            "arn:aws:ecs:us-east-1:123456789012:cluster/web",
            "arn:aws:ecs:eu-west-1:210987654321:cluster/api",
            None,
        ],
        "ecs_container_id": ["ab123456789012cd" * 4, "-", None],
        "path": ["s3://b/AWSLogs/123456789012/x/123456789012_vpcflowlogs_1.log.gz", None, None],
        "bytes": [1, 2, 3],
    },
    schema_overrides={"account_id": pl.Categorical(), "ecs_cluster_arn": pl.Categorical()},
)


def test_accounts_and_public_ips_are_masked_everywhere():
    out = redact(FLOWS, key="k")
    a, b = pseudonym_account("123456789012", key="k"), pseudonym_account("210987654321", key="k")
    assert out["account_id"].cast(pl.String).to_list() == [a, b, None]
    assert out["ecs_cluster_arn"].cast(pl.String).to_list() == [
        f"arn:aws:ecs:us-east-1:{a}:cluster/web",
        f"arn:aws:ecs:eu-west-1:{b}:cluster/api",
        None,
    ]
    assert out["path"][0] == f"s3://b/AWSLogs/{a}/x/{a}_vpcflowlogs_1.log.gz"
    # private, link-local and shared addresses stay; public ones land in documentation ranges
    assert out["srcaddr"][0] == "10.0.0.1" and out["dstaddr"].to_list()[1:] == [
        "fe80::1",
        "100.64.0.1",
    ]
    assert ipaddress.ip_address(out["srcaddr"][1]) in ipaddress.ip_network("198.18.0.0/15")
    assert ipaddress.ip_address(out["dstaddr"][0]) in ipaddress.ip_network("198.18.0.0/15")
    assert ipaddress.ip_address(out["srcaddr"][2]) in ipaddress.ip_network("2001:db8::/32")
    # a 12-digit run inside a hex container id is not an account
    assert out["ecs_container_id"].to_list() == FLOWS["ecs_container_id"].to_list()
    assert out.schema == FLOWS.schema
    assert_frame_equal(out.select("bytes"), FLOWS.select("bytes"))


def test_stable_per_key_and_lazy_equals_eager():
    once, again = redact(FLOWS, key="k"), redact(FLOWS, key=b"k")
    assert_frame_equal(once, again)
    lazy = redact(FLOWS.lazy(), key="k")
    assert isinstance(lazy, pl.LazyFrame)
    assert_frame_equal(lazy.collect(), once)
    other = redact(FLOWS, key="other")
    assert other["account_id"][0] != once["account_id"][0]
    assert pseudonym_ip("8.8.8.8", key="k") == once["dstaddr"][0]


def test_options_and_key():
    assert redact(FLOWS, key="k", accounts=False)["account_id"].equals(FLOWS["account_id"])
    assert redact(FLOWS, key="k", ips=False)["dstaddr"].equals(FLOWS["dstaddr"])
    with pytest.raises(ValueError, match="non-empty key"):
        redact(FLOWS, key="")


def test_no_account_id_of_the_simulated_sample_survives():
    flows = ecsflow.attribute_flows(ecsflow.read_flow_logs(SAMPLES / "simulated"))
    out = redact(flows, key="k")
    texts = out.select(pl.col(pl.String, pl.Categorical).cast(pl.String)).unpivot()["value"]
    assert not texts.drop_nulls().str.contains("123456789012", literal=True).any()
    # graphs stay readable: the same edges, with masked ends
    assert ecsflow.service_graph(out).number_of_edges() == (
        ecsflow.service_graph(flows).number_of_edges()
    )
