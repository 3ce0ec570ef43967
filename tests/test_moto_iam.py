"""The IAM statement evaluation the deployed-stack test relies on matches AWS's rules."""

from __future__ import annotations

from moto_iam import statement_applies

BUCKET = "arn:aws:s3:::results"


def test_wildcards_are_iam_wildcards_not_regexes() -> None:
    grant = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/r/*/_staging/*"}
    assert statement_applies(grant, "s3:GetObject", f"{BUCKET}/r/job/_staging/p.jsonl.gz", {})
    assert not statement_applies(grant, "s3:GetObject", f"{BUCKET}/r/job/p.jsonl.gz", {})
    dotted = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/a.b"}
    assert not statement_applies(dotted, "s3:GetObject", f"{BUCKET}/aXb", {})  # `.` is literal
    one = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/v?"}
    assert statement_applies(one, "s3:GetObject", f"{BUCKET}/v7", {})
    assert not statement_applies(one, "s3:GetObject", f"{BUCKET}/v", {})


def test_actions_are_case_insensitive_and_not_action_excludes() -> None:
    grant = {"Effect": "Allow", "Action": ["sqs:sendmessage"], "Resource": "*"}
    assert statement_applies(grant, "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q", {})
    others = {"Effect": "Allow", "NotAction": "sqs:*", "Resource": "*"}
    assert not statement_applies(others, "sqs:SendMessage", "*", {})
    assert statement_applies(others, "s3:GetObject", "*", {})


def test_a_condition_limits_its_statement_only() -> None:
    listing = {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": BUCKET,
        "Condition": {"StringLike": {"s3:prefix": ["results/nightly/*"]}},
    }
    assert statement_applies(listing, "s3:ListBucket", BUCKET, {"s3:prefix": "results/nightly/"})
    assert not statement_applies(listing, "s3:ListBucket", BUCKET, {"s3:prefix": "results/x/"})
    assert not statement_applies(listing, "s3:ListBucket", BUCKET, {})  # no prefix given
    negated = {
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"s3:prefix": "a/"}},
    }
    assert statement_applies(negated, "s3:ListBucket", BUCKET, {"s3:prefix": "b/"})
    assert not statement_applies(negated, "s3:ListBucket", BUCKET, {"s3:prefix": "a/"})
