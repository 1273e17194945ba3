#!/usr/bin/env python3
"""The tutorial's task in Python, standard library only: the same program as tutorial_task.mjs.

The Azure tutorial's python_tutorial_task.py needed the azure-storage package, so its start task
ran apt-get and pip on every node. This version needs nothing but python3: it uploads its output
with one HTTP PUT to a URL signed by the container SAS, so nothing is installed on the node.

    python3 $AZ_BATCH_NODE_SHARED_DIR/python_tutorial_task.py --filepath taskdata1.txt --numwords 3
            --storageaccount <account> --storagecontainer output --sastoken "<container SAS>"
            [--blobendpoint <the account's blob URL>]
"""
import argparse
import collections
import os
import string
import sys
import urllib.error
import urllib.parse
import urllib.request

if __name__ == '__main__':

    parser = argparse.ArgumentParser()
    parser.add_argument('--filepath', required=True,
                        help='The path to the text file to process.')
    parser.add_argument('--numwords', type=int, required=True,
                        help='The number of words in the top words list.')
    parser.add_argument('--storageaccount', required=True,
                        help='The storage account that owns the container '
                             'the results go to.')
    parser.add_argument('--storagecontainer', required=True,
                        help='The blob container the results go to.')
    parser.add_argument('--sastoken', required=True,
                        help='The SAS token granting write access to the '
                             'container.')
    # Not in the original, which could only talk to <account>.blob.core.windows.net.
    parser.add_argument('--blobendpoint',
                        help="The storage account's blob service URL.")
    args = parser.parse_args()

    input_file = os.path.realpath(args.filepath)
    output_file = '{}_OUTPUT{}'.format(
        os.path.splitext(args.filepath)[0],
        os.path.splitext(args.filepath)[1])

    with open(input_file, encoding='utf-8') as f:
        words = [word.strip(string.punctuation) for word in f.read().split()]

    # Unlike the original, tokens that were only punctuation are not counted as ''.
    word_counts = collections.Counter(word for word in words if word)

    with open(output_file, 'w', encoding='utf-8') as text_file:
        for word, count in word_counts.most_common(args.numwords):
            text_file.write('{}: {}\n'.format(word, count))

    # The container's SAS token is all the write access this task has.
    endpoint = (args.blobendpoint or 'https://{}.blob.core.windows.net'.format(
        args.storageaccount)).rstrip('/')
    blob_name = os.path.basename(output_file)
    url = '{}/{}/{}?{}'.format(endpoint, args.storagecontainer,
                               urllib.parse.quote(blob_name),
                               args.sastoken.lstrip('?'))

    output_file_path = os.path.realpath(output_file)

    print('Uploading file {} to container [{}]...'.format(
        output_file_path,
        args.storagecontainer))

    with open(output_file_path, 'rb') as f:
        body = f.read()
    request = urllib.request.Request(url, data=body, method='PUT', headers={
        'x-ms-blob-type': 'BlockBlob',
        'x-ms-version': '2021-08-06',
        'Content-Type': 'text/plain; charset=utf-8',
    })
    try:
        with urllib.request.urlopen(request) as response:
            if response.status != 201:
                sys.exit('the upload of {} failed: {}'.format(blob_name, response.status))
    except urllib.error.HTTPError as err:
        sys.exit('the upload of {} failed: {} {}\n{}'.format(
            blob_name, err.code, err.reason, err.read().decode('utf-8', 'replace')))

    sys.stdout.write(body.decode('utf-8'))
