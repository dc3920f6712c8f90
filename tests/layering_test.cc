// The dependency rule of README.md's "Layout" section, checked on every #include under src/:
//   tools → eval → runtime → model → attention/linear → ops → core;
//   formats → ops, tokenizer → formats, data → core; model and above may use formats and
//   tokenizer, eval may use data; train → data/tokenizer/formats/ops/core;
//   chat → tokenizer/formats/core, used by runtime, eval and tools;
//   server → runtime (and what runtime may use), used by tools.
// kAllowed below is that rule spelled out per directory (its own directory plus everything its
// arrows reach); a new directory under src/ must be added here and to the README.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace lc {
namespace {

namespace fs = std::filesystem;

const std::map<std::string, std::set<std::string>>& allowed_includes() {
  static const std::map<std::string, std::set<std::string>> kAllowed = {
      {"core", {"core"}},
      {"ops", {"ops", "core"}},
      {"formats", {"formats", "ops", "core"}},
      {"tokenizer", {"tokenizer", "formats", "ops", "core"}},
      {"data", {"data", "core"}},
      {"attention", {"attention", "ops", "core"}},
      {"linear", {"linear", "ops", "core"}},
      {"model", {"model", "attention", "linear", "formats", "tokenizer", "ops", "core"}},
      {"runtime",
       {"runtime", "model", "attention", "linear", "chat", "formats", "tokenizer", "ops", "core"}},
      {"eval",
       {"eval", "runtime", "model", "attention", "linear", "chat", "formats", "tokenizer", "data",
        "ops", "core"}},
      {"train", {"train", "data", "tokenizer", "formats", "ops", "core"}},
      {"chat", {"chat", "tokenizer", "formats", "core"}},
      {"server",
       {"server", "runtime", "model", "attention", "linear", "chat", "formats", "tokenizer", "ops",
        "core"}},
  };
  return kAllowed;
}

// Headers generated into the build directory, not part of any layer.
const std::set<std::string> kGeneratedHeaders = {"git_commit.h"};

// One message per violation under src_root: "src/DIR/FILE:LINE: includes \"X\" (DIR may use
// ...)", or a directory missing from the table.
std::vector<std::string> layering_violations(const fs::path& src_root) {
  const auto& allowed = allowed_includes();
  const std::regex include_re(R"(^\s*#\s*include\s*\"([^\"]+)\")");
  std::vector<std::string> out;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(src_root))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const fs::path& dir : dirs) {
    const std::string layer = dir.filename().string();
    const auto it = allowed.find(layer);
    if (it == allowed.end()) {
      out.push_back("src/" + layer + ": directory not in the layering table");
      continue;
    }
    std::string may_use;
    for (const auto& d : it->second) may_use += (may_use.empty() ? "" : " ") + d;
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      const std::string ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".h" || ext == ".cc")) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      std::ifstream in(file);
      std::string line;
      for (int line_no = 1; std::getline(in, line); ++line_no) {
        std::smatch m;
        if (!std::regex_search(line, m, include_re)) continue;
        const std::string target = m[1];
        const size_t slash = target.find('/');
        const bool ok = slash == std::string::npos ? kGeneratedHeaders.count(target) > 0
                                                   : it->second.count(target.substr(0, slash)) > 0;
        if (!ok)
          out.push_back("src/" + fs::relative(file, src_root).string() + ":" +
                        std::to_string(line_no) + ": includes \"" + target + "\" (" + layer +
                        " may use " + may_use + ")");
      }
    }
  }
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

TEST(Layering, EveryIncludeUnderSrcFollowsTheRule) {
  const fs::path src = fs::path(LONGCTX_SOURCE_DIR) / "src";
  ASSERT_TRUE(fs::is_directory(src)) << src;
  const auto v = layering_violations(src);
  EXPECT_TRUE(v.empty()) << "layering violations (README.md, Layout):\n" << joined(v);
}

// The checker itself, on a small made-up tree: each kind of violation is reported with its file
// and line, and allowed includes are not.
TEST(Layering, ReportsViolationsInAMadeUpTree) {
  const fs::path root =
      fs::path(::testing::TempDir()) / ("longctx_layering_" + std::to_string(::getpid()));
  fs::remove_all(root);
  const auto write = [&](const std::string& rel, const std::string& text) {
    fs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel) << text;
  };
  write("core/a.h", "#pragma once\n#include <vector>\n#include \"core/b.h\"\n");
  write("train/recall.h", "#include \"train/model.h\"\n#include \"eval/mqar.h\"\n");
  write("train/export.cc", "#include \"tokenizer/byte_level.h\"\n#include \"data/mqar.h\"\n");
  write("ops/k.cc", "// comment\n  #  include \"model/llama.h\"\n");
  write("eval/report.cc", "#include \"git_commit.h\"\n#include \"other_generated.h\"\n");
  write("extra/x.h", "#include \"core/a.h\"\n");
  const auto v = layering_violations(root);
  fs::remove_all(root);
  ASSERT_EQ(v.size(), 4u) << joined(v);
  EXPECT_EQ(v[0],
            "src/eval/report.cc:2: includes \"other_generated.h\" (eval may use attention "
            "chat core data eval formats linear model ops runtime tokenizer)");
  EXPECT_EQ(v[1], "src/extra: directory not in the layering table");
  EXPECT_EQ(v[2].rfind("src/ops/k.cc:2: includes \"model/llama.h\" (ops may use core ops)", 0), 0u)
      << v[2];
  EXPECT_EQ(v[3].rfind("src/train/recall.h:2: includes \"eval/mqar.h\"", 0), 0u) << v[3];
}

}  // namespace
}  // namespace lc
