"""Python v12 SDK (azure-storage-blob) against Kiln: prints one line per check; exits non-zero on failure."""
import os
from datetime import datetime, timedelta

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import (BlobClient, BlobSasPermissions, BlobServiceClient, ContainerClient,
                                ContainerSasPermissions, generate_blob_sas, generate_container_sas)

account, key, endpoint = os.environ["KILN_ACCOUNT"], os.environ["KILN_KEY"], os.environ["KILN_BLOB_URL"]
svc = BlobServiceClient.from_connection_string(
    f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};BlobEndpoint={endpoint};")
c = svc.get_container_client("python-v12")
c.create_container(metadata={"Meta_1": "x"})
b = c.get_blob_client("dir/a b.txt")
# Metadata names that the SDKs sort differently when they sign (blob-api.md §4).
b.upload_blob(b"hello from python", metadata={"a_c": "1", "a1": "2", "ab": "3"})
try:
    b.upload_blob(b"again")  # overwrite=False sends If-None-Match: *
    raise SystemExit("second upload was not refused")
except ResourceExistsError as e:
    print("refused:", e.error_code)
print("read:", b.download_blob().readall().decode())
print("metadata:", sorted(b.get_blob_properties().metadata.items()))
empty = c.get_blob_client("empty")
empty.upload_blob(b"")
print("empty:", len(empty.download_blob().readall()))
data = bytes(range(256)) * (300 * 1024)  # 75 MiB: over max_single_put_size, so Put Block + Put Block List
c.get_blob_client("big").upload_blob(data)
print("big equal:", c.get_blob_client("big").download_blob().readall() == data)
print("walk:", sorted(x.name for x in c.walk_blobs(delimiter="/")))
sas = generate_blob_sas(account, "python-v12", "dir/a b.txt", account_key=key,
                        permission=BlobSasPermissions(read=True), expiry=datetime.utcnow() + timedelta(hours=1))
print("blob sas read:", BlobClient.from_blob_url(b.url + "?" + sas).download_blob().readall().decode())
csas = generate_container_sas(account, "python-v12", account_key=key,
                              permission=ContainerSasPermissions(read=True, list=True, write=True),
                              expiry=datetime.utcnow() + timedelta(hours=1))
viasas = ContainerClient.from_container_url(c.url + "?" + csas)
viasas.get_blob_client("out.txt").upload_blob(b"x")
print("container sas list:", len(list(viasas.list_blobs())))
c.delete_container()
print("done")
