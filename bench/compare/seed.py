"""Puts the files of a folder into a bucket of an S3-compatible server, through the S3 API
(so the server stores ETags as S3 would), readable by anonymous callers, for bench/compare.sh.

    python3 seed.py --endpoint http://127.0.0.1:9000 --bucket videos --folder media/
"""

import argparse
import pathlib

import boto3
from botocore.config import Config


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--folder", required=True)
    args = parser.parse_args()

    s3 = boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        # One plain PUT per object: no aws-chunked trailers, no stored checksum to send back.
        config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required"),
    )
    s3.create_bucket(Bucket=args.bucket)
    root = pathlib.Path(args.folder)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        with path.open("rb") as body:
            # public-read: nginx cannot sign SigV4, so its unsigned GETs need an object that
            # anonymous callers may read (moto checks ACLs, not signatures).
            s3.put_object(Bucket=args.bucket, Key=path.relative_to(root).as_posix(), Body=body, ACL="public-read")
        print(f"put {path.relative_to(root)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
