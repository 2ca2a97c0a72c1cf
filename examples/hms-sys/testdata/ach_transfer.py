# ach_transfer.py
import requests
r = requests.post(
    "https://{{HOST}}/ach/transfer",
    json={"from": "Treasury", "to": "GPO", "amount": 250000})
print(r.status_code, r.json())
