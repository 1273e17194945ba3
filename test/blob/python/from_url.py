"""Python v12 SDK: Put Blob From URL and Put Block From URL against Kiln; prints one line per check."""
import os
import uuid
from base64 import b64encode
from datetime import datetime, timedelta

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobBlock, BlobSasPermissions, BlobServiceClient, generate_blob_sas

account, key, endpoint = os.environ["KILN_ACCOUNT"], os.environ["KILN_KEY"], os.environ["KILN_BLOB_URL"]
svc = BlobServiceClient.from_connection_string(
    f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};BlobEndpoint={endpoint};")
name = "py-from-url-" + uuid.uuid4().hex[:8]
c = svc.get_container_client(name)
c.create_container()
try:
    src = c.get_blob_client("source.txt")
    src.upload_blob(b"copied from the url")
    sas = generate_blob_sas(account, name, "source.txt", account_key=key,
                            permission=BlobSasPermissions(read=True), expiry=datetime.utcnow() + timedelta(hours=1))
    source_url = src.url + "?" + sas
    dst = c.get_blob_client("dst.txt")
    dst.upload_blob_from_url(source_url)
    print("upload_blob_from_url:", dst.download_blob().readall().decode())
    try:
        dst.upload_blob_from_url(source_url, overwrite=False)
        raise SystemExit("overwrite=False replaced the blob")
    except ResourceExistsError as e:
        print("overwrite=False:", e.error_code)
    try:
        c.get_blob_client("nosas.txt").upload_blob_from_url(src.url)
        raise SystemExit("a source without SAS was read")
    except HttpResponseError as e:
        print("no sas:", e.status_code, e.error_code)
    blocks = c.get_blob_client("blocks.txt")
    ids = [b64encode(b"block-%d" % i).decode() for i in range(2)]
    blocks.stage_block_from_url(ids[0], source_url, source_offset=0, source_length=7)
    blocks.stage_block_from_url(ids[1], source_url, source_offset=12, source_length=7)
    blocks.commit_block_list([BlobBlock(block_id=i) for i in ids])
    print("stage_block_from_url:", blocks.download_blob().readall().decode())
finally:
    c.delete_container()
print("done")
