// The MQAR recall sweep (src/train/recall.h, tools/cmd_recall.cc): state-size accounting against
// the spec's formulas worked by hand, the batched accuracy evaluation against mqar_accuracy on
// single-example forwards, determinism, and a tiny `longctx recall` sweep end to end (table,
// valid JSON, PNG, --from-json replot).
#include "train/recall.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "core/error.h"
#include "core/thread_pool.h"
#include "test_util.h"
#include "train/layers.h"
#include "train/optim.h"

namespace lc::train {
namespace {

TEST(RecallState, MatchesSpecFormulasByHand) {
  // attention 2 d L: d 64, L 256 -> 2 * 64 * 256.
  const RecallModel att = parse_recall_model("attention:d=64");
  EXPECT_EQ(mixer_state_size(att, 256), 32768);
  EXPECT_EQ(mixer_state_size(att, 64), 8192);
  // sliding window 2 d w: d 64, w 16 -> 2048, independent of L.
  const RecallModel win = parse_recall_model("window:d=64:w=16");
  EXPECT_EQ(mixer_state_size(win, 64), 2048);
  EXPECT_EQ(mixer_state_size(win, 1024), 2048);
  // BASED d (1 + f + f(f+1)/2) + (1 + f + f(f+1)/2): f 8 -> 1 + 8 + 36 = 45 features,
  // 64 * 45 + 45 = 2925; f 16 -> 1 + 16 + 136 = 153, 64 * 153 + 153 = 9945; d 32 f 4 ->
  // 1 + 4 + 10 = 15, 32 * 15 + 15 = 495.
  EXPECT_EQ(mixer_state_size(parse_recall_model("based:d=64:f=8"), 512), 2925);
  EXPECT_EQ(mixer_state_size(parse_recall_model("based:d=64:f=16"), 64), 9945);
  EXPECT_EQ(mixer_state_size(parse_recall_model("l:d=32:f=4"), 64), 495);
  // short conv d k: 64 * 3 = 192; the model total adds it to the mixer.
  EXPECT_EQ(conv_state_size(64), 192);
  EXPECT_EQ(model_state_size(win, 64), 2048 + 192);
  EXPECT_EQ(model_state_size(att, 128), 16384 + 192);
}

TEST(RecallModelSpec, ParsesAndRejects) {
  const RecallModel w = parse_recall_model("window:d=32:w=8");
  EXPECT_EQ(w.mixer, RecallMixer::Window);
  EXPECT_EQ(w.letter(), 'w');
  EXPECT_EQ(w.d_model, 32);
  EXPECT_EQ(w.window, 8);
  EXPECT_EQ(w.label(), "window d=32 w=8");
  EXPECT_EQ(parse_recall_model("based:d=64:f=16").label(), "BASED d=64 f=16");
  EXPECT_EQ(parse_recall_model("a:d=128").family(), "attention");
  for (const char* bad : {"mamba:d=64", "attention", "attention:d=63", "window:d=64", "based:d=64",
                          "attention:d=64:f=8", "based:d=64:f=8x", "window:d=64:w=0",
                          "based:d=64:f=65", "attention:d64"})
    EXPECT_THROW(parse_recall_model(bad), Error) << bad;
  const TrainConfig c = recall_train_config(parse_recall_model("based:d=32:f=8"), 64);
  EXPECT_EQ(c.mixers, (std::vector<Mixer>{Mixer::Conv, Mixer::Linear}));
  EXPECT_EQ(c.hidden, 0);
  EXPECT_EQ(c.linear_heads, 1);
  EXPECT_EQ(c.feature_dim, 8);
  EXPECT_FALSE(c.rope);
  EXPECT_TRUE(c.tied);
}

// The batched evaluation (with a short last batch) equals mqar_accuracy applied to each example's
// own batch-1 forward, averaged over examples.
TEST(RecallEval, EqualsMqarAccuracyPerExample) {
  ThreadPool pool(2);
  for (const char* spec : {"attention:d=16", "window:d=16:w=4", "based:d=16:f=4"}) {
    const TrainConfig c = recall_train_config(parse_recall_model(spec), 12);
    MqarSpec s;
    s.vocab = 12;
    s.seq_len = 16;
    s.pairs = 3;
    // A few training steps move the argmax at query positions from the key itself (tied
    // embeddings) to the values [6, 12), where chance hits some labels: the accuracy is then
    // neither 0 nor 1 and a mis-scored position would show.
    TrainModel<float> t(c, 8, 16, 7);
    AdamWConfig oc;
    oc.lr = 1e-2;
    oc.total_steps = 20;
    AdamW opt(oc, t.params());
    const auto train = mqar_dataset(s, 8, 5);
    std::vector<int> tok, lab;
    for (const auto& e : train) {
      tok.insert(tok.end(), e.tokens.begin(), e.tokens.end());
      for (int l : e.labels) lab.push_back(l == kMqarIgnore ? kIgnoreLabel : l);
    }
    for (int step = 0; step < 20; ++step) {
      t.forward(pool, tok.data(), lab.data());
      t.backward(pool);
      opt.step(pool, t.weights(), t.grads());
    }
    TrainModel<float> m(c, 1, 16, 1);
    std::memcpy(m.weights(), t.weights(), sizeof(float) * static_cast<size_t>(m.n_params()));
    const auto ex = mqar_dataset(s, 7, 11);
    double ref = 0;
    for (const auto& e : ex) {
      m.forward(pool, e.tokens.data(), nullptr);
      ref += mqar_accuracy(e, m.logits(), 12);
    }
    ref /= static_cast<double>(ex.size());
    EXPECT_GT(ref, 0.0) << spec;
    EXPECT_LT(ref, 1.0) << spec;
    for (int64_t batch : {1, 3, 7, 50})
      EXPECT_NEAR(mqar_eval_accuracy(pool, c, m.weights(), ex, batch), ref, 1e-12)
          << spec << " batch " << batch;
  }
}

RecallSweep tiny_sweep() {
  RecallSweep s;
  s.vocab = 32;
  s.train = {{16, 2}, {32, 4}};
  s.test = {{16, 2}, {32, 4}, {64, 8}};
  s.lrs = {1e-2, 3e-3};
  s.steps = 6;
  s.tokens_per_step = 128;
  s.warmup_steps = 1;
  s.eval_every = 3;
  s.val_examples = 4;
  s.test_examples = 5;
  s.eval_batch = 4;
  return s;
}

TEST(RecallRunModel, DeterministicAndComplete) {
  ThreadPool pool(2);
  const RecallSweep s = tiny_sweep();
  const RecallModel m = parse_recall_model("based:d=16:f=4");
  int reports = 0;
  const RecallResult a = run_recall_model(pool, s, m, [&](const RecallProgress& p) {
    ++reports;
    EXPECT_EQ(p.steps, 6);
    EXPECT_TRUE(p.step == 3 || p.step == 6);
  });
  const RecallResult b = run_recall_model(pool, s, m, nullptr);
  ASSERT_EQ(a.runs.size(), 2u);  // 6 steps do not reach 0.99: both rates are tried
  EXPECT_EQ(reports, 4);
  ASSERT_EQ(a.test_accuracy.size(), 3u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(a.runs[i].steps_run, 6);
    EXPECT_EQ(a.runs[i].final_loss, b.runs[i].final_loss);
    EXPECT_EQ(a.runs[i].val_accuracy, b.runs[i].val_accuracy);
  }
  EXPECT_EQ(a.best, b.best);
  EXPECT_EQ(a.test_accuracy, b.test_accuracy);
  // The kept run is the best validation.
  for (const auto& r : a.runs) EXPECT_LE(r.val_accuracy, a.runs[a.best].val_accuracy);
}

TEST(RecallRunModel, StopsAtTargetAndSkipsRemainingRates) {
  ThreadPool pool(1);
  RecallSweep s = tiny_sweep();
  s.stop_accuracy = 0.0;  // every validation reaches it: stop at the first report
  const RecallResult r = run_recall_model(pool, s, parse_recall_model("attention:d=16"), nullptr);
  ASSERT_EQ(r.runs.size(), 1u);
  EXPECT_EQ(r.runs[0].steps_run, 3);
  EXPECT_TRUE(r.runs[0].stopped_early);
}

TEST(RecallSweepCheck, RejectsImpossibleSettings) {
  RecallSweep s = tiny_sweep();
  s.test.push_back({64, 20});  // 4 * 20 > 64
  EXPECT_THROW(validate(s), Error);
  s = tiny_sweep();
  s.tokens_per_step = 8;  // less than one sequence of 16
  EXPECT_THROW(validate(s), Error);
  s = tiny_sweep();
  s.lrs.clear();
  EXPECT_THROW(validate(s), Error);
}

// ---- `longctx recall` end to end ----

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "/longctx_recall_" + std::to_string(::getpid()) + "_" + name;
}

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int run(const std::string& cmd) {
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

TEST(RecallCli, TinySweepWritesTableJsonAndPlot) {
  if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  const std::string js = tmp("r.json"), png = tmp("r.png"), out = tmp("out"), err = tmp("err");
  const std::string args =
      " recall --model attention:d=16 --model based:d=16:f=4 --vocab 32"
      " --train 16x2,32x4 --test 16x2,32x4,32x8 --lr 1e-2 --steps 4"
      " --tokens-per-step 128 --eval-every 2 --val-examples 4"
      " --test-examples 4 --seed 3 -t 2";
  const int st = run("timeout 120 '" + test::longctx_bin() + "'" + args + " --json '" + js +
                     "' --plot '" + png + "' >'" + out + "' 2>'" + err + "' </dev/null");
  ASSERT_EQ(st, 0) << slurp(err);
  const std::string o = slurp(out), e = slurp(err);
  EXPECT_NE(o.find("| model | state (values) |"), std::string::npos) << o;
  EXPECT_NE(o.find("| attention d=16 | 560-1072 (grows with L) |"), std::string::npos) << o;
  EXPECT_NE(o.find("| BASED d=16 f=4 | 303 |"), std::string::npos) << o;  // 16*15+15 + 16*3
  EXPECT_NE(e.find("recall: [2/2] BASED d=16 f=4 lr 1.0e-02 step 4/4"), std::string::npos) << e;
  const std::string j = slurp(js);
  for (const char* key : {"\"results\"", "\"state\": 1072", "\"mixer_state\": 255", "\"accuracy\"",
                          "\"best_lr\"", "\"wall_seconds\"", "\"evaluation\""})
    EXPECT_NE(j.find(key), std::string::npos) << key << "\n" << j;
  const std::string p = slurp(png);
  ASSERT_GT(p.size(), 8u);
  EXPECT_EQ(p.substr(1, 3), "PNG");

  // Same seed and threads: the same table.
  ASSERT_EQ(
      run("timeout 120 '" + test::longctx_bin() + "'" + args + " >'" + out + "2' 2>/dev/null"), 0);
  const std::string o2 = slurp(out + "2");
  // The header line carries the wall time; compare the table rows.
  EXPECT_EQ(o.substr(o.find("| model")), o2.substr(o2.find("| model")));

  // --from-json: the same table again without training; merging a file with itself is allowed
  // (same sweep) and doubles the rows.
  const std::string js2 = tmp("r2.json");
  ASSERT_EQ(run("'" + test::longctx_bin() + "' recall --from-json '" + js + "' --from-json '" + js +
                "' --json '" + js2 + "' >'" + out + "3' 2>'" + err + "'"),
            0)
      << slurp(err);
  const std::string o3 = slurp(out + "3");
  const std::string rows = o.substr(o.find("| attention d=16"));
  EXPECT_NE(o3.find(rows + rows.substr(0, rows.find('\n') + 1)), std::string::npos) << o3;
  EXPECT_NE(slurp(js2).find("\"mixer_state\": 255"), std::string::npos);
  EXPECT_EQ(
      run("'" + test::longctx_bin() + "' recall --from-json '" + js + "' --seed 2 2>/dev/null"), 1);

  if (std::system("python3 -c 'import json' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 not available: JSON validity checked by key search only";
  EXPECT_EQ(run("python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
                "assert len(d[\"results\"]) == 2 and len(d[\"results\"][0][\"test\"]) == 3' '" +
                js + "'"),
            0);
}

// The engine (the trained weights exported as a BASED checkpoint, no position encoding) scores
// every test slice exactly as the trainer's forward does, on models that learned something.
TEST(RecallCli, EngineAccuracyEqualsTrainerAccuracy) {
  if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  const std::string js = tmp("engine.json"), out = tmp("engine_out"), err = tmp("engine_err");
  ASSERT_EQ(run("timeout 300 '" + test::longctx_bin() +
                "' recall --model attention:d=16"
                " --model window:d=16:w=4 --model based:d=16:f=4 --vocab 16 --train 16x2"
                " --test 16x2,32x4 --lr 1e-2 --steps 300 --tokens-per-step 256"
                " --eval-every 100 --val-examples 8 --test-examples 50 --seed 3 -t 2 --json '" +
                js + "' >'" + out + "' 2>'" + err + "'"),
            0)
      << slurp(err);
  const std::string o = slurp(out);
  for (const char* row : {"| attention d=16 |", "| window d=16 w=4 |", "| BASED d=16 f=4 |"}) {
    const size_t at = o.find(row);
    ASSERT_NE(at, std::string::npos) << o;
    const std::string line = o.substr(at, o.find('\n', at) - at);
    EXPECT_EQ(line.substr(line.size() - 9), "| 0.000 |") << line;  // engine vs trainer
  }
  const std::string j = slurp(js);
  EXPECT_NE(j.find("\"engine_accuracy\""), std::string::npos);
  // Attention learned the short slice well above chance (1/8 of the values).
  const size_t a = o.find("| attention d=16 |");
  const std::string cells = o.substr(a, o.find('\n', a) - a);
  EXPECT_NE(cells.find("| 0.400 |"), std::string::npos) << cells;
}

TEST(RecallCli, SweepFileWithComments) {
  if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  const std::string sw = tmp("sweep.txt"), out = tmp("sw_out"), err = tmp("sw_err");
  std::ofstream(sw) << "# two tiny models\nwindow:d=8:w=4   # a window\n\n  based:d=8:f=2\n";
  const int st = run("timeout 120 '" + test::longctx_bin() + "' recall --sweep '" + sw +
                     "' --vocab 16 --train 16x2 --test 16x2 --steps 2 --tokens-per-step 32"
                     " --eval-every 1 --val-examples 2 --test-examples 2 >'" +
                     out + "' 2>'" + err + "'");
  ASSERT_EQ(st, 0) << slurp(err);
  const std::string o = slurp(out);
  EXPECT_NE(o.find("| window d=8 w=4 | 88 |"), std::string::npos) << o;  // 2*8*4 + 8*3
  EXPECT_NE(o.find("| BASED d=8 f=2 | 78 |"), std::string::npos) << o;   // 8*6 + 6 + 8*3
  EXPECT_NE(slurp(err).find("recall: [2/2] BASED d=8 f=2"), std::string::npos);
}

TEST(RecallCli, RejectsBadFlags) {
  if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  for (const char* bad : {"--model mamba:d=8", "--train 64x", "--test 64x20", "--lr 1e-3,abc",
                          "--model window:d=16 --steps 2"}) {
    const std::string err = tmp("bad");
    const int st =
        run("'" + test::longctx_bin() + "' recall " + bad + " >/dev/null 2>'" + err + "'");
    EXPECT_EQ(st, 1) << bad;
    EXPECT_NE(slurp(err).find("error"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace lc::train
