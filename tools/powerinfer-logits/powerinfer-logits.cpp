// Prints the logits PowerInfer computes for an explicit token sequence, in the JSON of `turbosparse logits`:
//   {"tokens":[...],"logits":[[...vocab floats...], ...one row per position]}
// Used to check that turbosparse's sparse GGUF exports ("PWRI" magic, architecture bamboo) load in PowerInfer,
// the llama.cpp fork of SJTU-IPADS, and give the same logits. PowerInfer's llama.h is a late-2023 llama.cpp API
// (llama_load_model_from_file, f16_kv, llama_backend_init(bool)), unlike tools/llamacpp-logits/llama-logits.cpp.
// Build against a PowerInfer checkout built outside this repository; see README.md beside this file.
#include "llama.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

// In this ggml the levels run ERROR = 2 < WARN = 3 < INFO = 4: keep errors and warnings, on stderr.
static void quiet(ggml_log_level level, const char * text, void *) {
    if (level <= GGML_LOG_LEVEL_WARN) {
        fputs(text, stderr);
    }
}

// Non-finite values as the strings turbosparse's JSON writer uses (Jackson WRITE_NAN_AS_STRINGS).
static void print_float(FILE * out, float x) {
    if (std::isnan(x)) fputs("\"NaN\"", out);
    else if (std::isinf(x)) fputs(x > 0 ? "\"Infinity\"" : "\"-Infinity\"", out);
    else fprintf(out, "%.9g", x);
}

int main(int argc, char ** argv) {
    const char * model_path = nullptr;
    std::string tokens_arg;
    int threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-m")) model_path = argv[i + 1];
        else if (!strcmp(argv[i], "--tokens")) tokens_arg = argv[i + 1];
        else if (!strcmp(argv[i], "-t")) threads = atoi(argv[i + 1]);
    }
    if (!model_path || tokens_arg.empty()) {
        fprintf(stderr, "usage: powerinfer-logits -m MODEL.gguf --tokens 1,22,33 [-t THREADS]\n");
        return 2;
    }
    std::vector<llama_token> tokens;
    for (size_t at = 0; at < tokens_arg.size();) {
        size_t comma = tokens_arg.find(',', at);
        tokens.push_back((llama_token) atoi(tokens_arg.substr(at, comma - at).c_str()));
        at = comma == std::string::npos ? tokens_arg.size() : comma + 1;
    }
    // PowerInfer and its ggml still printf() a few messages to stdout: send fd 1 to stderr while they run
    // and write the JSON to a copy of the original stdout.
    fflush(stdout);
    FILE * out = fdopen(dup(STDOUT_FILENO), "w");
    dup2(STDERR_FILENO, STDOUT_FILENO);
    llama_log_set(quiet, nullptr);
    llama_backend_init(false);
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;         // a sparse (PWRI) model refuses to load with n_gpu_layers > 0
    mp.vram_budget_gb = 0.0f;    // sparse models place FFN neurons by VRAM budget (CUDA builds only)
    mp.disable_gpu_index = true; // no GPU index or FFN split: every neuron stays on the CPU
    mp.reset_gpu_index = false;
    llama_model * model = llama_load_model_from_file(model_path, mp);
    if (!model) {
        fprintf(stderr, "powerinfer-logits: PowerInfer could not load %s\n", model_path);
        return 1;
    }
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t) tokens.size() < 64 ? 64 : (uint32_t) tokens.size();
    cp.n_batch = cp.n_ctx;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.f16_kv = false; // keys and values in float32: an f16 cache alone moves logits by about 1e-3
    llama_context * ctx = llama_new_context_with_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "powerinfer-logits: could not create a context for %s\n", model_path);
        return 1;
    }
    fprintf(stderr, "powerinfer-logits: sparse inference %s\n", llama_use_sparse_inference(model) ? "on" : "off");
    const int n_vocab = llama_n_vocab(model);
    llama_batch batch = llama_batch_init((int32_t) tokens.size(), 0, 1);
    for (size_t i = 0; i < tokens.size(); i++) {
        batch.token[i] = tokens[i];
        batch.pos[i] = (llama_pos) i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = (int32_t) tokens.size();
    if (llama_decode(ctx, batch) != 0) {
        fprintf(stderr, "powerinfer-logits: llama_decode failed\n");
        return 1;
    }
    fprintf(out, "{\"tokens\":[");
    for (size_t i = 0; i < tokens.size(); i++) fprintf(out, i ? ",%d" : "%d", tokens[i]);
    fprintf(out, "],\"logits\":[");
    for (size_t i = 0; i < tokens.size(); i++) {
        const float * row = llama_get_logits_ith(ctx, (int32_t) i);
        fprintf(out, i ? ",[" : "[");
        for (int v = 0; v < n_vocab; v++) {
            if (v) fputc(',', out);
            print_float(out, row[v]);
        }
        fprintf(out, "]");
    }
    fprintf(out, "]}\n");
    fclose(out);
    llama_batch_free(batch);
    llama_free(ctx);
    llama_free_model(model);
    llama_backend_free();
    return 0;
}
