"""A real rafka cluster for any Python project's tests (the pytest plugin).

local_cluster.py (LocalCluster: real node processes on free 127.0.0.1
ports in a directory, started, waited for, stopped, killed and restarted
by pid) and plugin.py (the fixtures `rafka_cluster`, `bootstrap_servers`,
`rafka_topic`, registered through the `pytest11` entry point).

May import node/ (config rendering, format) and confluent-kafka (to wait
for readiness and manage topics the way a user's code would); nothing in
rafka imports this package.
"""
