#pragma once
// proto/ as tests read it: its folders and files, and validation against its JSON Schemas with
// RapidJSON's validator (draft-04). Shared by proto_test (the catalogue itself) and
// contract_test (the typed messages of libs/contract against it).
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/pointer.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "dm/testing/testing.hpp"

namespace dm::testing::proto {

namespace fs = std::filesystem;

inline fs::path dir() {
  const char* env = std::getenv("DM_SOURCE_DIR");
  fs::path root = (env && *env) ? fs::path(env) : fs::path(dm::testing::source_dir());
  return root / "proto";
}

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Parses JSON text; on error returns false and describes it in `error`.
inline bool parse_text(std::string_view text, rapidjson::Document& doc, std::string& error) {
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(text.data(), text.size());
  if (!doc.HasParseError()) return true;
  error = "offset " + std::to_string(doc.GetErrorOffset()) + ": " + rapidjson::GetParseError_En(doc.GetParseError());
  return false;
}

inline bool parse_file(const fs::path& path, rapidjson::Document& doc, std::string& error) {
  if (parse_text(read_file(path), doc, error)) return true;
  error = path.string() + ": " + error;
  return false;
}

inline const std::string kSchemaSuffix = ".schema.json";

// Schema names (file name without .schema.json), sorted.
inline std::vector<std::string> schema_names() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir() / "schemas")) {
    std::string file = entry.path().filename().string();
    if (entry.is_regular_file() && file.size() > kSchemaSuffix.size() &&
        file.compare(file.size() - kSchemaSuffix.size(), kSchemaSuffix.size(), kSchemaSuffix) == 0) {
      names.push_back(file.substr(0, file.size() - kSchemaSuffix.size()));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline fs::path schema_path(const std::string& name) { return dir() / "schemas" / (name + kSchemaSuffix); }

// The *.json files directly in `folder`, sorted.
inline std::vector<fs::path> json_files(const fs::path& folder) {
  std::vector<fs::path> files;
  if (!fs::is_directory(folder)) return files;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}
inline std::vector<fs::path> examples(const std::string& schema) { return json_files(dir() / "examples" / schema); }
inline std::vector<fs::path> counter_examples(const std::string& schema) {
  return json_files(dir() / "examples" / schema / "invalid");
}

inline std::string pointer_string(const rapidjson::Pointer& p) {
  rapidjson::StringBuffer sb;
  p.StringifyUriFragment(sb);
  return sb.GetString();
}

// Validates a document; on failure describes where and why.
inline bool validate(const rapidjson::SchemaDocument& schema, const rapidjson::Document& doc, std::string& why) {
  rapidjson::SchemaValidator validator(schema);
  if (doc.Accept(validator)) return true;
  why = "keyword '" + std::string(validator.GetInvalidSchemaKeyword()) + "' at schema " +
        pointer_string(validator.GetInvalidSchemaPointer()) + ", document " +
        pointer_string(validator.GetInvalidDocumentPointer());
  return false;
}

// Why `text` is not valid JSON or breaks proto/schemas/<schema>.schema.json; nullopt when valid.
inline std::optional<std::string> schema_violation(const std::string& schema, std::string_view text) {
  struct Loaded {
    rapidjson::Document source;
    std::unique_ptr<rapidjson::SchemaDocument> schema;
  };
  static std::map<std::string, Loaded> cache;
  auto& loaded = cache[schema];
  std::string why;
  if (!loaded.schema) {
    if (!parse_file(schema_path(schema), loaded.source, why)) return why;
    loaded.schema = std::make_unique<rapidjson::SchemaDocument>(loaded.source);
  }
  rapidjson::Document doc;
  if (!parse_text(text, doc, why)) return "not JSON: " + why;
  if (validate(*loaded.schema, doc, why)) return std::nullopt;
  return why;
}

}  // namespace dm::testing::proto
