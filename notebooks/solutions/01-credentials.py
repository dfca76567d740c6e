canada = sh.Credentials("my-canadian-plan", "an-invented-token-for-practice", region="ca")
print(canada.endpoint)
# A .env file that does not exist adds nothing: you get what the environment holds (None when,
# as in sandbox mode, it holds no credentials).
print(sh.load_credentials(env_file="no-such-file.env"))
