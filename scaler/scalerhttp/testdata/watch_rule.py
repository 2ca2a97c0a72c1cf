# watch_rule.py
import time, requests, pprint
while True:
    stat = requests.get("https://{{HOST}}/rules/AR-101/status").json()
    pprint.pprint(stat)   # e.g., {"replicas": 12, "metric": 640}
    time.sleep(5)
