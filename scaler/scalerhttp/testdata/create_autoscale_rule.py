# create_autoscale_rule.py
import requests

rule = {
  "service": "eligibility-api",
  "minReplicas": 4,
  "maxReplicas": 20,
  "trigger": {"metric": "http_rps", "threshold": 500}
}
r = requests.post("https://{{HOST}}/autoscale-rules", json=rule)
print(r.json())          # { "ruleId": "AR-101" }
