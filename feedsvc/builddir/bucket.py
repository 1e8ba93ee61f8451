"""A build kept in an S3-compatible bucket: the only module that imports boto3.

Endpoint, region, credentials and addressing style come from the standard AWS
environment variables and config files (`AWS_ENDPOINT_URL`, `AWS_REGION`,
`AWS_ACCESS_KEY_ID`, `AWS_PROFILE`, `~/.aws/config`…), and `storage.*` in
feedsvc's config file overrides the endpoint, region and addressing style.
Every failure of the store reaches the caller as an `OSError`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from feedsvc.builddir.storage import Fetched, ObjectHeaders, StorageOptions, name_in_build

# Objects uploaded at once: each PUT waits mostly for the network and the store.
WRITERS = 16
# A delete request removes at most this many objects (S3's limit).
DELETE_BATCH = 1000
# A replica polls every second: a store that does not answer must not hold a poll for long.
CONNECT_TIMEOUT_S = 3
READ_TIMEOUT_S = 30


def _failure(error: Exception) -> OSError:
    """Turn what boto3 raised into an OSError saying why (FileNotFoundError for an object that is not there)."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("NoSuchKey", "404", "NotFound") or status == 404:
            return FileNotFoundError(f"no such object ({code or status})")
        message = error.response.get("Error", {}).get("Message") or code
        return OSError(f"{code or status}: {message}")
    return OSError(str(error))


class Bucket:
    """A build kept as objects under a prefix of a bucket, each with the headers a CDN in front of it sends."""

    trusted = True  # the manifest says what was uploaded: never listed, nor each object looked at
    writers = WRITERS

    def __init__(self, bucket: str, prefix: str, options: StorageOptions) -> None:
        self.bucket = bucket
        self.prefix = prefix
        session = boto3.session.Session(region_name=options.region or None)
        config = Config(
            s3={"addressing_style": options.addressing_style} if options.addressing_style else {},
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
            retries={"mode": "standard", "max_attempts": 3},
            max_pool_connections=WRITERS + 4,
            # Checksums in trailers are AWS's own: many S3-compatible stores refuse or ignore them.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self.client: Any = session.client("s3", endpoint_url=options.endpoint or None, config=config)
        # The MD5 of what each object holds, as far as this process knows (its ETag, for a whole PUT):
        # writing the same bytes again is skipped.
        self._md5: dict[str, str] = {}
        self._lock = threading.Lock()

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, name: str) -> str:
        """Return the object key of the file `name` of the build."""
        return self.prefix + "/".join(name_in_build(name))

    def locate(self, name: str) -> str:
        """Return the s3:// URL of the file `name`."""
        return f"s3://{self.bucket}/{self.prefix}{name}"

    def _note(self, name: str, etag: str | None) -> None:
        md5 = (etag or "").strip('"')
        with self._lock:
            if len(md5) == 32:  # a multipart upload's ETag is no MD5 (it ends in -N)
                self._md5[name] = md5
            else:
                self._md5.pop(name, None)

    def read(self, name: str) -> bytes:
        """Return the object's bytes."""
        fetched = self.fetch(name, None)
        assert fetched is not None  # noqa: S101 - a GET without a condition always answers the object
        return fetched.body

    def fetch(self, name: str, known: str | None) -> Fetched | None:
        """Return the object unless its ETag is `known`: a conditional GET (If-None-Match), None on 304."""
        key = self.key(name)
        condition = {"IfNoneMatch": known} if known else {}
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key, **condition)
            body = answer["Body"].read()
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if known and (status == 304 or error.response.get("Error", {}).get("Code") == "304"):
                return None
            raise _failure(error) from None
        except BotoCoreError as error:
            raise _failure(error) from None
        etag = str(answer.get("ETag") or "")
        self._note(name, etag)
        return Fetched(etag, body)

    def write(self, name: str, data: bytes, headers: ObjectHeaders) -> bool:
        """Upload the object with its Content-Type, Cache-Control and Content-Encoding (unless known to hold it)."""
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        with self._lock:
            if self._md5.get(name) == md5:
                return False
        extra: dict[str, str] = {"ContentType": headers.media_type}
        if headers.cache_control:
            extra["CacheControl"] = headers.cache_control
        if headers.encoding:
            extra["ContentEncoding"] = headers.encoding
        try:
            answer = self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=data, **extra)
        except (ClientError, BotoCoreError) as error:
            raise OSError(f"{self.locate(name)}: {_failure(error)}") from None
        self._note(name, str(answer.get("ETag") or f'"{md5}"'))
        return True

    def remove(self, names: Iterable[str]) -> int:
        """Delete the objects, a thousand a request."""
        keys = sorted({self.key(name): name for name in names}.items())
        removed = 0
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            objects = [{"Key": key} for key, _ in batch]
            try:
                answer = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
            except (ClientError, BotoCoreError) as error:
                raise OSError(f"{self}: {_failure(error)}") from None
            failed = answer.get("Errors") or []
            if failed:
                first = failed[0]
                raise OSError(f"s3://{self.bucket}/{first.get('Key')}: {first.get('Code')}: {first.get('Message')}")
            for _, name in batch:
                self._note(name, None)
            removed += len(batch)
        return removed
