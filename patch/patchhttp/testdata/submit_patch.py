import requests, yaml
patch = yaml.safe_load(open("artist_registry_patch.yml"))

r = requests.post(
    "https://{{HOST}}/api/patch",
    json=patch,
    timeout=5
)
print(r.json())            # 👉 {"patch_id": 784, "status": "QUEUED"}
