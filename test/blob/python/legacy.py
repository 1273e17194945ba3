"""The 2016 tutorial's BlockBlobService (legacy SDK, one API version per argv[1]) against Kiln."""
import datetime
import importlib
import os
import sys
import urllib.request

version = sys.argv[1]
blob = importlib.import_module(f"azure.multiapi.storage.{version}.blob")
account, key, endpoint = os.environ["KILN_ACCOUNT"], os.environ["KILN_KEY"], os.environ["KILN_BLOB_URL"]
service = blob.BlockBlobService(connection_string=f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};BlobEndpoint={endpoint};")
container = "legacy-" + version.replace("_", "-")
print("create:", service.create_container(container, fail_on_exist=False), service.create_container(container, fail_on_exist=False))
source = os.path.join(os.environ["WORK_DIR"], "taskdata.txt")
with open(source, "w") as f:
    f.write("legacy text " * 100)
service.create_blob_from_path(container, "dir/taskdata.txt", source, metadata={"a_c": "1", "a1": "2"})
token = service.generate_blob_shared_access_signature(
    container, "dir/taskdata.txt", permission=blob.BlobPermissions.READ,
    expiry=datetime.datetime.utcnow() + datetime.timedelta(hours=2))
print("blob sas read:", len(urllib.request.urlopen(service.make_blob_url(container, "dir/taskdata.txt", sas_token=token)).read()))
write_token = service.generate_container_shared_access_signature(
    container, permission=blob.ContainerPermissions.WRITE, expiry=datetime.datetime.utcnow() + datetime.timedelta(hours=2))
writer = blob.BlockBlobService(account_name=account, sas_token=write_token, custom_domain=endpoint.split("://")[1], protocol="http")
writer.create_blob_from_text(container, "output/result.txt", "written with container sas")
print("list:", [b.name for b in service.list_blobs(container, prefix="", delimiter="/")])
target = os.path.join(os.environ["WORK_DIR"], "result.txt")
service.get_blob_to_path(container, "output/result.txt", target)
with open(target) as f:
    print("download:", f.read())
service.get_blob_to_path(container, "dir/taskdata.txt", target)
print("download size:", os.path.getsize(target))
print("delete:", service.delete_container(container))
