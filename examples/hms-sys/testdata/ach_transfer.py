# ach_transfer.py
import requests
requests.post(
    "https://{{HOST}}/ach/transfer",
    json={"from": "Treasury", "to": "GPO", "amount": 250000})
