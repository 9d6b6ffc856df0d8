// llama.cpp (as node-llama-cpp packages it) on a GGUF file: its tokenization of each text, the per-token
// log-probabilities of the first `windows` windows of `ctx` tokens (each window from an empty sequence, every token
// after the first scored: DESIGN.md §6, qn eval's protocol), and a greedy continuation of `greedyTokens` tokens from
// the first `greedyPrompt` ids. node-llama-cpp gives no log-probability directly; controlledEvaluate returns, per
// position, the raw logits of chosen tokens (logits.filter) and the total logit weight Σ exp(logit − max); asking for the
// token a greedy sampler selects (the argmax) with includeSelected gives max, so log p(t) = logit_t − max − ln(total).
// (filter.includeMax returned no maximum in 3.22.1; includeTop works but sorts the vocabulary at every position.)
//
// usage: node llama-cpp-eval.mjs '{"model": "m.gguf", "texts": ["a.txt"], "ctx": 256, "windows": 16,
//                                  "greedyPrompt": 8, "greedyTokens": 32, "out": "result.json"}'
// ("scoreTexts": [...] limits the windows and the continuation to those texts; the others are only tokenized.)
import { getLlama } from "node-llama-cpp";
import { readFileSync, writeFileSync } from "node:fs";

const args = JSON.parse(process.argv[2]);
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath: args.model });
// One thread: ggml's worker threads spin while they wait, which on a shared machine costs far more than it saves.
const context = await model.createContext({ contextSize: args.ctx, batchSize: args.ctx, sequences: 1, threads: 1 });
const sequence = context.getSequence();

/** Log-probabilities of window[i + 1] after window[0..i], for every i. */
async function scoreWindow(window) {
    await sequence.clearHistory();
    const items = window.map((token, i) => i + 1 < window.length
        ? [token, { generateNext: { token: true, options: { temperature: 0 }, logits: { filter: { tokens: [window[i + 1]], includeSelected: true } }, totalLogitWeight: true } }]
        : token);
    const results = await sequence.controlledEvaluate(items);
    const logprobs = [];
    for (let i = 0; i + 1 < window.length; i++) {
        const next = results[i].next;
        const max = Math.max(...next.logits.values());
        logprobs.push(next.logits.get(window[i + 1]) - max - Math.log(next.totalLogitWeight));
    }
    return logprobs;
}

/** Greedy continuation: the argmax (a temperature-0 sampler's choice) of each position, fed back. */
async function greedy(prompt, n) {
    await sequence.clearHistory();
    const out = [];
    let input = prompt;
    for (let k = 0; k < n; k++) {
        const items = input.map((token, i) => i + 1 < input.length ? token
            : [token, { generateNext: { token: true, options: { temperature: 0 } } }]);
        const results = await sequence.controlledEvaluate(items);
        const next = results[input.length - 1].next.token;
        out.push(next);
        input = [next];
    }
    return out;
}

const result = { model: args.model, bos: model.tokens.shouldPrependBosToken ? model.tokens.bos : null, texts: [] };
for (const path of args.texts) {
    const ids = model.tokenize(readFileSync(path, "utf8"), false);
    if (model.tokens.shouldPrependBosToken) ids.unshift(model.tokens.bos);
    const windows = [];
    const count = args.scoreTexts == null || args.scoreTexts.includes(path) ? args.windows : 0;
    for (let w = 0; w < count && (w + 1) * args.ctx <= ids.length; w++)
        windows.push(await scoreWindow(ids.slice(w * args.ctx, (w + 1) * args.ctx)));
    const logprobs = windows.flat();
    const nll = logprobs.length ? -logprobs.reduce((a, b) => a + b, 0) / logprobs.length : null;
    result.texts.push({
        text: path, ids, windows: windows.length, predicted: logprobs.length, nll, ppl: nll == null ? null : Math.exp(nll),
        greedy: args.greedyTokens > 0 && count > 0 ? await greedy(ids.slice(0, args.greedyPrompt), args.greedyTokens) : [],
    });
}
writeFileSync(args.out, JSON.stringify(result));
await context.dispose();
await model.dispose();
