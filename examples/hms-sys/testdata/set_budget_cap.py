# set_budget_cap.py
import requests
cap = {"monthlyUSD": 10000}
requests.post("https://{{HOST}}/budgets/eligibility-api", json=cap)
