// The MQAR recall sweep as data (src/data/mqar_recall.h: slices, sweep files, settings) and its
// reports (src/eval/recall_report.h): the JSON record read back equals what was written, merging
// doubles the rows and refuses another sweep, and the table and state texts match hand-worked
// values.
#include "eval/recall_report.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "data/mqar_recall.h"

namespace lc {
namespace {

TEST(RecallData, SlicesAndSweepFiles) {
  const std::vector<MqarSlice> s = parse_mqar_slices("--train", "64x4,128x16");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].seq_len, 128);
  EXPECT_EQ(s[1].pairs, 16);
  EXPECT_EQ(slice_name(s[0]), "64x4");
  for (const char* bad : {"64x", "64", "x4", "64x4,", "64x4x2"}) {
    try {
      parse_mqar_slices("--test", bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("--test", 0), 0u) << e.what();
    }
  }
  EXPECT_EQ(recall_specs_from_text("# models\n  a:d=8  # one\n\nwindow:d=8:w=2\r\n#x\n"),
            (std::vector<std::string>{"a:d=8", "window:d=8:w=2"}));
  for (const std::string& spec : default_recall_specs()) EXPECT_NO_THROW(parse_recall_model(spec));
  EXPECT_EQ(default_recall_specs().size(), 12u);
}

TEST(RecallData, SameSettings) {
  RecallSweep a, b;
  EXPECT_TRUE(same_settings(a, b));
  b.test[0].pairs = 8;
  EXPECT_FALSE(same_settings(a, b));
  b = a;
  b.seed = 2;
  EXPECT_FALSE(same_settings(a, b));
  b = a;
  b.lrs.push_back(1e-3);
  EXPECT_FALSE(same_settings(a, b));
}

// Two models on a two-slice test set: attention (its state grows with L) with engine results,
// BASED without.
RecallRecord tiny_record() {
  RecallRecord rec;
  rec.sweep.vocab = 16;
  rec.sweep.train = {{16, 2}};
  rec.sweep.test = {{16, 2}, {32, 4}};
  rec.sweep.lrs = {1e-2, 3e-3};
  rec.sweep.seed = 3;
  rec.threads = 2;
  rec.wall_seconds = 1.5;
  RecallResult att;
  att.model = parse_recall_model("attention:d=16");
  att.n_params = 3040;
  att.runs = {{1e-2, 40, 2.5, 0.25, false, 0.5}, {3e-3, 20, 2.0, 1.0, true, 0.25}};
  att.best = 1;
  att.test_accuracy = {0.875, 0.5};
  att.engine_accuracy = {0.875, 0.4375};
  RecallResult lin;
  lin.model = parse_recall_model("based:d=16:f=4");
  lin.n_params = 2656;
  lin.runs = {{1e-2, 40, 2.25, 0.125, false, 0.75}};
  lin.test_accuracy = {0.25, 0.125};
  rec.results = {att, lin};
  return rec;
}

TEST(RecallReport, StateTextAndEngineGap) {
  const RecallRecord rec = tiny_record();
  // attention 2 d L + conv d 3: 2*16*16 + 48 = 560, 2*16*32 + 48 = 1072.
  EXPECT_EQ(recall_state_text(rec.results[0].model, rec.sweep.test), "560-1072 (grows with L)");
  EXPECT_EQ(recall_state_text(rec.results[0].model, {{32, 4}}), "1072");
  EXPECT_EQ(recall_state_text(rec.results[1].model, rec.sweep.test), "303");  // 16*15+15+48
  EXPECT_EQ(recall_engine_gap(rec.results[0]), "0.062");
  EXPECT_EQ(recall_engine_gap(rec.results[1]), "-");
}

TEST(RecallReport, TableRows) {
  const std::string t = recall_table(tiny_record());
  EXPECT_EQ(t.substr(0, t.find('\n')),
            "| model | state (values) | params | lr | steps | val acc | 16x2 | 32x4 | engine vs "
            "trainer |");
  EXPECT_NE(t.find("| attention d=16 | 560-1072 (grows with L) | 3040 | 3.0e-03 | 20 (stop) | "
                   "1.000 | 0.875 | 0.500 | 0.062 |\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("| BASED d=16 f=4 | 303 | 2656 | 1.0e-02 | 40 | 0.125 | 0.250 | 0.125 | - |"),
            std::string::npos)
      << t;
  EXPECT_EQ(recall_heading(tiny_record()).substr(0, 38), "MQAR recall sweep: vocab 16, train 16x");
}

TEST(RecallReport, JsonRoundTripAndMerge) {
  const RecallRecord rec = tiny_record();
  const std::string json = recall_json(rec, "longctx recall --seed 3");
  EXPECT_NE(json.find("\"mixer_state\": 512"), std::string::npos) << json;  // 2 * 16 * 16
  const RecallRecord back = read_recall_json(json, "r.json");
  EXPECT_TRUE(same_settings(back.sweep, rec.sweep));
  EXPECT_EQ(back.threads, 2);
  EXPECT_EQ(back.wall_seconds, 1.5);
  ASSERT_EQ(back.results.size(), 2u);
  EXPECT_EQ(back.results[0].best, 1u);
  EXPECT_EQ(back.results[0].engine_accuracy, rec.results[0].engine_accuracy);
  EXPECT_TRUE(back.results[1].engine_accuracy.empty());
  EXPECT_EQ(back.results[1].model.label(), "BASED d=16 f=4");
  EXPECT_EQ(recall_table(back), recall_table(rec));
  EXPECT_EQ(recall_json(back, "longctx recall --seed 3"), json);

  RecallRecord merged = back;
  merge_recall_record(&merged, back, "again.json");
  EXPECT_EQ(merged.results.size(), 4u);
  EXPECT_EQ(merged.wall_seconds, 3.0);
  RecallRecord other = back;
  other.sweep.seed = 4;
  try {
    merge_recall_record(&merged, other, "other.json");
    ADD_FAILURE() << "merged another sweep";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--from-json other.json: its sweep settings"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(read_recall_json("{\"sweep\": {}}", "bad.json"), Error);
  EXPECT_THROW(read_recall_json("not json", "bad.json"), Error);
}

}  // namespace
}  // namespace lc
