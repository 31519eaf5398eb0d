"""The official `openai` Python client, unmodified, against a running `nao prover` (node/tests/openai.rs).

    client.py BASE_URL embeddings MODEL PROMPT SAVE
    client.py BASE_URL chat MODEL PROMPT SAVE MAX_TOKENS

Asserts what a buyer relies on (the model listed, the answer's shape, errors by name) and prints one JSON line
with what the Rust test checks on the chain: the claim ids and what the answers said. The first answer is saved
as received to SAVE (for `nao verify`).
"""

import json
import sys
import urllib.error
import urllib.request

import openai


def main() -> None:
    base, kind, model, prompt, save = sys.argv[1:6]
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="none", max_retries=0, timeout=600)
    assert [m.id for m in client.models.list().data] == [model]
    out = {}
    if kind == "embeddings":
        r = client.embeddings.create(model=model, input=prompt)
        assert len(r.data) == 1 and len(r.data[0].embedding) == 384, r
        floats = client.embeddings.create(model=model, input=[prompt], encoding_format="float")
        assert floats.data[0].embedding == r.data[0].embedding, "base64 and float encodings agree"
        nao = r.model_extra["nao"][0]
        assert floats.model_extra["nao"][0]["claim_id"] == nao["claim_id"], "the same input, the same claim"
        out["embedding"] = r.data[0].embedding[:4]
        # two new inputs of one request share a batch (the prover batches two jobs a claim): one claim, two indices;
        # their prompts have other lengths than the first, and than each other: one registration serves them all
        pair = ["A prover re-runs every claim.", "A validator re-runs every claim it sees, then votes on what it found."]
        both = client.embeddings.create(model=model, input=pair)
        naos = both.model_extra["nao"]
        assert [d.index for d in both.data] == [0, 1] and len(naos) == 2, both
        assert naos[0]["claim_id"] == naos[1]["claim_id"] != nao["claim_id"], naos
        assert sorted(n["index"] for n in naos) == [0, 1] and all(n["batch"] == 2 for n in naos), naos
        out["batched"] = naos[1]
        out["pair_tokens"] = both.usage.prompt_tokens
        # past the model's context (512 tokens for MiniLM): refused by name, nothing claimed
        expect_error(openai.BadRequestError, lambda: client.embeddings.create(model=model, input="token " * 600))
    else:
        max_tokens = int(sys.argv[6])
        messages = [{"role": "user", "content": prompt}]
        r = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens)
        text = r.choices[0].message.content
        assert r.choices[0].finish_reason in ("stop", "length"), r
        nao = r.model_extra["nao"]
        chunks = list(client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens, stream=True))
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
        assert streamed == text, (streamed, text)
        assert chunks[-1].choices[0].finish_reason == r.choices[0].finish_reason
        out["answer"] = text
        out["finish"] = r.choices[0].finish_reason
        out["tokens"] = r.usage.completion_tokens
        # fewer tokens: a claim of fewer steps under the same registration
        short = client.chat.completions.create(model=model, messages=messages, max_tokens=4)
        assert short.usage.completion_tokens <= 4 and text.startswith(short.choices[0].message.content), short
        out["short"] = short.model_extra["nao"]
        expect_error(
            openai.BadRequestError,
            lambda: client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens + 1),
        )
        expect_error(openai.NotFoundError, lambda: client.chat.completions.create(model="gpt-4o", messages=messages))
    with open(save, "w") as f:
        f.write(r.to_json())
    status = get(nao["status_url"])
    assert status["status"] in ("pending", "challenged", "finalized"), status
    try:
        get(f"{base}/v1/claims/0x{'00' * 32}")
        raise AssertionError("a claim that does not exist has a status")
    except urllib.error.HTTPError as e:
        assert e.code == 404 and json.load(e)["error"]["code"] == "claim_not_found"
    out.update(claim_id=nao["claim_id"], index=nao["index"], trace_root=nao["trace_root"], transaction=nao["transaction"])
    out["status"] = status["status"]
    print(json.dumps(out))


def get(url: str) -> dict:
    with urllib.request.urlopen(url) as r:
        return json.load(r)


def expect_error(kind, call) -> None:
    try:
        call()
    except kind as e:
        assert e.body and e.body.get("message"), e
        return
    raise AssertionError(f"expected {kind.__name__}")


if __name__ == "__main__":
    main()
