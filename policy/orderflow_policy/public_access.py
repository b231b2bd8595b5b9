"""Public access blocked: no ACL or bucket policy may ever make order files public."""

from __future__ import annotations

from collections.abc import Sequence

from . import tokens
from .model import Props, StackResource, StackRule, Violation, is_true, of_type, owner

FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def missing_flags(props: Props) -> list[str]:
    return [flag for flag in FLAGS if not is_true(props.get(flag))]


def check_buckets(resources: Sequence[StackResource]) -> list[Violation]:
    """Each bucket has a BucketPublicAccessBlock with all four flags (or the account does)."""
    account_blocks = of_type(resources, frozenset({tokens.ACCOUNT_PUBLIC_ACCESS_BLOCK}))
    if any(not missing_flags(block.props) for block in account_blocks):
        return []
    buckets = of_type(resources, tokens.BUCKETS)
    blocks: dict[str, list[StackResource]] = {}
    for block in of_type(resources, frozenset({tokens.BUCKET_PUBLIC_ACCESS_BLOCK})):
        bucket = owner(block, "bucket", buckets, ("bucket", "id"))
        if bucket is not None:
            blocks.setdefault(bucket.urn, []).append(block)
    found: list[Violation] = []
    for bucket in buckets:
        mine = blocks.get(bucket.urn, [])
        if not mine:
            found.append(
                Violation(
                    f"bucket {bucket.name} has no BucketPublicAccessBlock: add one with all "
                    f"four flags ({', '.join(FLAGS)}) set",
                    bucket.urn,
                )
            )
        elif all(missing_flags(b.props) for b in mine):
            found.append(
                Violation(
                    f"bucket {bucket.name}: its public access block leaves "
                    f"{', '.join(missing_flags(mine[0].props))} off: set all four",
                    bucket.urn,
                )
            )
    return found


PUBLIC_ACCESS_BLOCKED = StackRule(
    name="s3-public-access-blocked",
    description=(
        "Every S3 bucket has a BucketPublicAccessBlock with blockPublicAcls, blockPublicPolicy, "
        "ignorePublicAcls and restrictPublicBuckets all true (or an account-wide block)."
    ),
    subject_types=tokens.BUCKETS,
    check=check_buckets,
)
