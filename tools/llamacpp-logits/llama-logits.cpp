// Prints the logits llama.cpp computes for an explicit token sequence, in the JSON of `turbosparse logits`:
//   {"tokens":[...],"logits":[[...vocab floats...], ...one row per position]}
// Used to check that turbosparse's GGUF exports load in llama.cpp and give the same logits (docs/EVAL.md).
// Build against a llama.cpp checkout built outside this repository; see README.md beside this file.
#include "llama.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static void quiet(ggml_log_level level, const char * text, void *) {
    if (level >= GGML_LOG_LEVEL_WARN) {
        fputs(text, stderr);
    }
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
        fprintf(stderr, "usage: llama-logits -m MODEL.gguf --tokens 1,22,33 [-t THREADS]\n");
        return 2;
    }
    std::vector<llama_token> tokens;
    for (size_t at = 0; at < tokens_arg.size();) {
        size_t comma = tokens_arg.find(',', at);
        tokens.push_back((llama_token) atoi(tokens_arg.substr(at, comma - at).c_str()));
        at = comma == std::string::npos ? tokens_arg.size() : comma + 1;
    }
    llama_log_set(quiet, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    llama_model * model = llama_model_load_from_file(model_path, mp);
    if (!model) {
        fprintf(stderr, "llama-logits: llama.cpp could not load %s\n", model_path);
        return 1;
    }
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t) tokens.size() < 64 ? 64 : (uint32_t) tokens.size();
    cp.n_batch = cp.n_ctx;
    cp.n_ubatch = cp.n_ctx;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    // keys and values in float32: llama.cpp's default f16 cache alone moves logits by about 1e-3
    cp.type_k = GGML_TYPE_F32;
    cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "llama-logits: could not create a context for %s\n", model_path);
        return 1;
    }
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
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
        fprintf(stderr, "llama-logits: llama_decode failed\n");
        return 1;
    }
    printf("{\"tokens\":[");
    for (size_t i = 0; i < tokens.size(); i++) printf(i ? ",%d" : "%d", tokens[i]);
    printf("],\"logits\":[");
    for (size_t i = 0; i < tokens.size(); i++) {
        const float * row = llama_get_logits_ith(ctx, (int32_t) i);
        printf(i ? ",[" : "[");
        for (int v = 0; v < n_vocab; v++) printf(v ? ",%.9g" : "%.9g", row[v]);
        printf("]");
    }
    printf("]}\n");
    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}
