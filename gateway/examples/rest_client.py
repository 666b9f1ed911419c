# Publish three orders, then consume them through an HTTP subscription and ack them.
# ORDERBUS_URL: the gateway (default http://127.0.0.1:7460); ORDERBUS_TOKEN: a REST token.
import os, requests

bus = requests.Session()
bus.headers["Authorization"] = "Bearer " + os.environ["ORDERBUS_TOKEN"]
url = os.environ.get("ORDERBUS_URL", "http://127.0.0.1:7460") + "/v1"

def post(path, body):  # POST JSON, raise on an HTTP error, return the JSON answer
    r = bus.post(url + path, json=body)
    r.raise_for_status()
    return r.json()

for n in range(3):  # answered after the broker's durable confirm; a retry is a duplicate
    print("published", post("/topics/orders.eu/events", {"id": f"order-{n}", "type": "order.created"}))
post("/subscriptions", {"name": "billing", "patterns": ["orders.>"], "start": "earliest"})
acked = 0
while acked < 3:  # long-poll up to 5 s, process, ack by handle
    deliveries = post("/subscriptions/billing/fetch", {"max": 10, "wait_ms": 5000})["deliveries"]
    for d in deliveries:
        print("got", d["topic"], d["seq"], d["event"]["id"], "attempt", d["attempt"])
    if deliveries:
        acked += post("/subscriptions/billing/ack", {"handles": [d["handle"] for d in deliveries]})["count"]
