"""Python v12 SDK: snapshot deletes as `az storage blob delete --snapshot` sends them, and other refusals."""
import os
import uuid

from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobClient, BlobServiceClient, StandardBlobTier

account, key, endpoint = os.environ["KILN_ACCOUNT"], os.environ["KILN_KEY"], os.environ["KILN_BLOB_URL"]
conn = f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};BlobEndpoint={endpoint};"
svc = BlobServiceClient.from_connection_string(conn)
name = "py-unsupported-" + uuid.uuid4().hex[:8]
c = svc.get_container_client(name)
c.create_container()


def refused(label, call):
    try:
        call()
        raise SystemExit(f"{label} was not refused")
    except HttpResponseError as e:
        print(f"{label}:", e.status_code, getattr(e.error_code, "value", e.error_code))


try:
    base = c.get_blob_client("base.txt")
    base.upload_blob(b"base content")
    # az storage blob delete --snapshot S: a BlobClient of the snapshot, then delete_blob.
    snap = BlobClient.from_connection_string(conn, name, "base.txt", snapshot="2024-01-01T00:00:00.0000000Z")
    refused("delete snapshot", snap.delete_blob)
    refused("delete_snapshots=only", lambda: base.delete_blob(delete_snapshots="only"))
    refused("delete_snapshots=include", lambda: base.delete_blob(delete_snapshots="include"))
    refused("create_snapshot", base.create_snapshot)
    refused("standard_blob_tier=Cool", lambda: c.get_blob_client("cool.txt").upload_blob(b"x", standard_blob_tier=StandardBlobTier.COOL))
    print("base survives:", base.download_blob().readall().decode())
finally:
    c.delete_container()
print("done")
