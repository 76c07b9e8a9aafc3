"""An S3-compatible server on loopback for the object-storage tests.

Starts moto's server mode on 127.0.0.1 (a free port), creates the test
bucket, writes the environment the tests read to the file named by the first
argument (KEY=VALUE lines: AWS_ENDPOINT, credentials, NPZMAP_TEST_S3_URL),
then serves until it is terminated. scripts/test.sh starts and stops it.
"""

import signal
import socket
import sys
import threading

from moto.server import ThreadedMotoServer

BUCKET = "npzmap-test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    env_file = sys.argv[1]
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="npzmap",
        aws_secret_access_key="npzmap",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket=BUCKET)
    # Anyone may read (GET) objects: the tests also read them as plain
    # `http://` URLs, like a public bucket or any static file server.
    import json

    s3.put_bucket_policy(
        Bucket=BUCKET,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{BUCKET}/*",
                    }
                ],
            }
        ),
    )
    env = {
        "AWS_ENDPOINT": endpoint,
        "AWS_ACCESS_KEY_ID": "npzmap",
        "AWS_SECRET_ACCESS_KEY": "npzmap",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
        "NPZMAP_TEST_S3_URL": f"s3://{BUCKET}/tests",
    }
    with open(env_file + ".tmp", "w") as f:
        f.writelines(f"{k}={v}\n" for k, v in env.items())
    import os

    os.replace(env_file + ".tmp", env_file)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    server.stop()


if __name__ == "__main__":
    main()
