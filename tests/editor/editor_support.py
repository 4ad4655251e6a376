"""What the editor tests share: the token every test app is made with and the headers that carry it."""

TOKEN = "test-token"
H = {"X-Sigmascene-Token": TOKEN}
