"""A local AWS: moto's server with the project's fixes, and the stack a deployment creates.

One harness for `scorer demo`, the tests, the benchmarks and the compose stack:
- `moto_fixes`: patches that make moto 5.2.5's SQS as safe and cheap as SQS (moto only),
- `moto_server`: moto's HTTP server with those fixes, in a thread or as a process (moto only),
- `stack`: the queue, its dead-letter queue and the bucket (boto3 only: runs in the image),
- `worker_process`: the real `scorer work` as a child process, its JSON logs readable.
moto is the `local` extra (`pip install 'scorer[local]'`); the image does not carry it.
"""
