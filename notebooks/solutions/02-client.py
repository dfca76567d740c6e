# Uses the notebook's `client` and `sender`.
response = requests.post(
    client.base_url + "/batches",
    headers={"Authorization": f"Bearer {client.credentials.api_token}"},
    json={
        "to": sh.my_numbers(client, ["+447700900003", "+447700900004"]),
        "from": sender,
        "body": "Practice makes perfect",
        "client_reference": "my-first-reference",
    },
    timeout=10,
)
response.raise_for_status()
fetched = client.get_batch(response.json()["id"])
print(fetched.client_reference)
