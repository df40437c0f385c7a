// The message catalogue in proto/: every JSON Schema loads in RapidJSON's validator and uses
// only what that validator implements, every example validates, every counter-example
// fails, and the subject table in proto/README.md names existing schemas (and uses them all).
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/pointer.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "proto_files.hpp"

namespace fs = std::filesystem;
using namespace dm::testing::proto;

namespace {

// Walks a schema and records every problem RapidJSON would not report itself: keywords it
// does not implement (it ignores them silently), patterns its regex engine cannot compile
// (also ignored silently), and $refs that are not local or do not resolve.
class SchemaLint {
 public:
  explicit SchemaLint(const rapidjson::Document& root) : root_(root) {}

  std::vector<std::string> run() {
    visit(root_, "#");
    return problems_;
  }

 private:
  void visit(const rapidjson::Value& schema, const std::string& at) {
    if (!schema.IsObject()) {
      problems_.push_back(at + ": a schema must be an object");
      return;
    }
    static const std::set<std::string> kKeywords = {
        // Implemented by RapidJSON 1.1 (draft-04 validation).
        "type", "enum", "allOf", "anyOf", "oneOf", "not", "properties", "required", "dependencies", "patternProperties",
        "additionalProperties", "minProperties", "maxProperties", "items", "minItems", "maxItems", "additionalItems",
        "uniqueItems", "minLength", "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "multipleOf", "$ref",
        // Annotations and structure.
        "$schema", "title", "description", "default", "definitions"};
    for (auto m = schema.MemberBegin(); m != schema.MemberEnd(); ++m) {
      std::string key = m->name.GetString();
      if (!kKeywords.count(key)) problems_.push_back(at + ": keyword '" + key + "' is not supported by RapidJSON");
    }
    if (auto it = schema.FindMember("$schema"); it != schema.MemberEnd() && at != "#") {
      problems_.push_back(at + ": $schema only at the top");
    }
    if (auto it = schema.FindMember("$ref"); it != schema.MemberEnd()) check_ref(it->value, at);
    if (auto it = schema.FindMember("pattern"); it != schema.MemberEnd()) check_pattern(it->value, at + "/pattern");
    if (auto it = schema.FindMember("type"); it != schema.MemberEnd()) check_type(it->value, at + "/type");
    if (auto it = schema.FindMember("enum"); it != schema.MemberEnd()) {
      if (!it->value.IsArray() || it->value.Empty()) problems_.push_back(at + "/enum: must be a non-empty array");
    }
    if (auto it = schema.FindMember("required"); it != schema.MemberEnd()) check_required(schema, it->value, at);
    for (const char* map : {"properties", "patternProperties", "definitions"}) {
      auto it = schema.FindMember(map);
      if (it == schema.MemberEnd()) continue;
      if (!it->value.IsObject()) {
        problems_.push_back(at + "/" + map + ": must be an object");
        continue;
      }
      for (auto m = it->value.MemberBegin(); m != it->value.MemberEnd(); ++m) {
        std::string sub = at + "/" + map + "/" + m->name.GetString();
        if (std::string(map) == "patternProperties") check_pattern(m->name, sub);
        visit(m->value, sub);
      }
    }
    for (const char* list : {"allOf", "anyOf", "oneOf"}) {
      auto it = schema.FindMember(list);
      if (it == schema.MemberEnd()) continue;
      if (!it->value.IsArray() || it->value.Empty()) {
        problems_.push_back(at + "/" + list + ": must be a non-empty array");
        continue;
      }
      for (rapidjson::SizeType i = 0; i < it->value.Size(); ++i) {
        visit(it->value[i], at + "/" + list + "/" + std::to_string(i));
      }
    }
    for (const char* single : {"not", "additionalProperties", "additionalItems", "items"}) {
      auto it = schema.FindMember(single);
      if (it == schema.MemberEnd()) continue;
      if (it->value.IsObject()) {
        visit(it->value, at + "/" + single);
      } else if (it->value.IsArray() && std::string(single) == "items") {
        for (rapidjson::SizeType i = 0; i < it->value.Size(); ++i)
          visit(it->value[i], at + "/items/" + std::to_string(i));
      } else if (!it->value.IsBool() || std::string(single) == "not" || std::string(single) == "items") {
        problems_.push_back(at + "/" + single + ": must be a schema");
      }
    }
    if (auto it = schema.FindMember("dependencies"); it != schema.MemberEnd() && it->value.IsObject()) {
      for (auto m = it->value.MemberBegin(); m != it->value.MemberEnd(); ++m) {
        if (m->value.IsObject()) visit(m->value, at + "/dependencies/" + m->name.GetString());
      }
    }
  }

  void check_ref(const rapidjson::Value& ref, const std::string& at) {
    const std::string prefix = "#/definitions/";
    if (!ref.IsString()) {
      problems_.push_back(at + "/$ref: must be a string");
      return;
    }
    std::string target = ref.GetString();
    if (target.rfind(prefix, 0) != 0) {
      problems_.push_back(at + "/$ref: only local '#/definitions/...' references are allowed, not '" + target + "'");
      return;
    }
    rapidjson::Pointer pointer(target.substr(1).c_str());
    if (!pointer.IsValid() || !pointer.Get(root_)) problems_.push_back(at + "/$ref: '" + target + "' does not resolve");
  }

  void check_pattern(const rapidjson::Value& pattern, const std::string& at) {
    if (!pattern.IsString()) {
      problems_.push_back(at + ": pattern must be a string");
      return;
    }
    rapidjson::internal::Regex regex(pattern.GetString());
    if (!regex.IsValid()) {
      problems_.push_back(at + ": RapidJSON's regex engine cannot compile '" + std::string(pattern.GetString()) +
                          "' (it would be ignored)");
    }
  }

  void check_type(const rapidjson::Value& type, const std::string& at) {
    static const std::set<std::string> kTypes = {"null", "boolean", "object", "array", "number", "integer", "string"};
    auto ok = [&](const rapidjson::Value& v) { return v.IsString() && kTypes.count(v.GetString()) > 0; };
    if (type.IsArray()) {
      for (const auto& t : type.GetArray()) {
        if (!ok(t)) problems_.push_back(at + ": unknown type");
      }
    } else if (!ok(type)) {
      problems_.push_back(at + ": unknown type");
    }
  }

  void check_required(const rapidjson::Value& schema, const rapidjson::Value& required, const std::string& at) {
    if (!required.IsArray() || required.Empty()) {
      problems_.push_back(at + "/required: must be a non-empty array");
      return;
    }
    // With additionalProperties false, a required name missing from properties can never
    // be satisfied: almost surely a typo.
    auto props = schema.FindMember("properties");
    auto extra = schema.FindMember("additionalProperties");
    bool closed = extra != schema.MemberEnd() && extra->value.IsFalse();
    for (const auto& r : required.GetArray()) {
      if (!r.IsString()) {
        problems_.push_back(at + "/required: names must be strings");
      } else if (closed && (props == schema.MemberEnd() || !props->value.HasMember(r.GetString()))) {
        problems_.push_back(at + "/required: '" + std::string(r.GetString()) + "' is not among the properties");
      }
    }
  }

  const rapidjson::Document& root_;
  std::vector<std::string> problems_;
};

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// The cells of one markdown table row ("| a | b |" → {"a", "b"}).
std::vector<std::string> table_cells(const std::string& line) {
  std::vector<std::string> cells;
  std::string t = trim(line);
  if (t.size() < 2 || t.front() != '|') return cells;
  t = t.substr(1);
  if (!t.empty() && t.back() == '|') t.pop_back();
  std::string cell;
  bool in_code = false;
  for (char c : t) {
    if (c == '`') in_code = !in_code;
    if (c == '|' && !in_code) {
      cells.push_back(trim(cell));
      cell.clear();
    } else {
      cell += c;
    }
  }
  cells.push_back(trim(cell));
  return cells;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

struct CatalogueRow {
  std::string subject;
  std::vector<std::string> schemas;
};

// The rows of the table in proto/README.md whose header has "Subject" and "Schema" columns.
std::vector<CatalogueRow> catalogue() {
  std::istringstream in(read_file(dir() / "README.md"));
  std::vector<CatalogueRow> rows;
  std::string line;
  int subject_col = -1, schema_col = -1;
  bool in_table = false;
  const std::regex schema_file(R"(([a-z0-9][a-z0-9-]*)\.schema\.json)");
  while (std::getline(in, line)) {
    auto cells = table_cells(line);
    if (cells.empty()) {
      in_table = false;
      continue;
    }
    if (!in_table) {
      in_table = true;
      subject_col = schema_col = -1;
      for (std::size_t i = 0; i < cells.size(); ++i) {
        if (lower(cells[i]) == "subject") subject_col = static_cast<int>(i);
        if (lower(cells[i]) == "schema") schema_col = static_cast<int>(i);
      }
      continue;  // the header
    }
    if (subject_col < 0 || schema_col < 0) continue;                       // another table
    if (cells[0].find_first_not_of("-: ") == std::string::npos) continue;  // |---|---|
    CatalogueRow row;
    if (static_cast<int>(cells.size()) > subject_col) row.subject = cells[subject_col];
    if (static_cast<int>(cells.size()) > schema_col) {
      const std::string& cell = cells[schema_col];
      for (auto it = std::sregex_iterator(cell.begin(), cell.end(), schema_file); it != std::sregex_iterator(); ++it) {
        row.schemas.push_back((*it)[1].str());
      }
    }
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

TEST_CASE("proto: every schema is a JSON Schema RapidJSON fully understands", "[proto]") {
  auto names = schema_names();
  REQUIRE(names.size() >= 10);
  for (const auto& name : names) {
    CAPTURE(name);
    rapidjson::Document doc;
    std::string error;
    REQUIRE(parse_file(schema_path(name), doc, error));
    REQUIRE(doc.IsObject());
    REQUIRE(doc.HasMember("$schema"));
    CHECK(std::string(doc["$schema"].GetString()) == "http://json-schema.org/draft-04/schema#");
    CHECK(doc.HasMember("title"));
    CHECK(doc.HasMember("description"));
    rapidjson::SchemaDocument schema(doc);  // must not crash or assert
    auto problems = SchemaLint(doc).run();
    for (const auto& p : problems) UNSCOPED_INFO(p);
    CHECK(problems.empty());
  }
}

TEST_CASE("proto: examples validate and counter-examples do not", "[proto]") {
  auto names = schema_names();
  REQUIRE_FALSE(names.empty());
  for (const auto& name : names) {
    CAPTURE(name);
    rapidjson::Document sdoc;
    std::string error;
    REQUIRE(parse_file(schema_path(name), sdoc, error));
    rapidjson::SchemaDocument schema(sdoc);

    auto valid = json_files(dir() / "examples" / name);
    auto invalid = json_files(dir() / "examples" / name / "invalid");
    CHECK(valid.size() >= 1);
    CHECK(invalid.size() >= 1);
    for (const auto& file : valid) {
      CAPTURE(file.string());
      rapidjson::Document doc;
      REQUIRE(parse_file(file, doc, error));
      std::string why;
      bool ok = validate(schema, doc, why);
      CAPTURE(why);
      CHECK(ok);
    }
    for (const auto& file : invalid) {
      CAPTURE(file.string());
      rapidjson::Document doc;
      // A counter-example is still JSON: it must fail the schema, not the parser.
      REQUIRE(parse_file(file, doc, error));
      std::string why;
      CHECK_FALSE(validate(schema, doc, why));
    }
  }
}

TEST_CASE("proto: every examples folder belongs to a schema", "[proto]") {
  auto names = schema_names();
  std::set<std::string> known(names.begin(), names.end());
  for (const auto& entry : fs::directory_iterator(dir() / "examples")) {
    CAPTURE(entry.path().string());
    CHECK(entry.is_directory());
    CHECK(known.count(entry.path().filename().string()) == 1);
  }
}

TEST_CASE("proto: the README catalogue names existing schemas and uses them all", "[proto]") {
  auto rows = catalogue();
  REQUIRE(rows.size() >= 9);
  std::set<std::string> used;
  const std::regex subject(R"(^`dm(\.([a-z]+|<[a-z_]+>))+`$)");
  for (const auto& row : rows) {
    CAPTURE(row.subject);
    CHECK(std::regex_match(row.subject, subject));
    CHECK_FALSE(row.schemas.empty());
    for (const auto& s : row.schemas) {
      CAPTURE(s);
      CHECK(fs::is_regular_file(schema_path(s)));
      used.insert(s);
    }
  }
  for (const auto& name : schema_names()) {
    CAPTURE(name);
    CHECK(used.count(name) == 1);
  }
}

TEST_CASE("proto: the lint catches what RapidJSON would silently ignore", "[proto]") {
  rapidjson::Document doc;
  doc.Parse(R"({
    "type": "object",
    "additionalProperties": false,
    "required": ["a", "typo"],
    "properties": {
      "a": {"type": "string", "pattern": "^\\d+$", "format": "date-time"},
      "b": {"$ref": "#/definitions/missing"},
      "c": {"$ref": "other.json#/x"},
      "d": {"const": 1}
    }
  })");
  REQUIRE_FALSE(doc.HasParseError());
  auto problems = SchemaLint(doc).run();
  auto mentions = [&](const std::string& what) {
    return std::any_of(problems.begin(), problems.end(),
                       [&](const std::string& p) { return p.find(what) != std::string::npos; });
  };
  CHECK(mentions("'typo' is not among the properties"));
  CHECK(mentions("cannot compile"));
  CHECK(mentions("keyword 'format'"));
  CHECK(mentions("keyword 'const'"));
  CHECK(mentions("does not resolve"));
  CHECK(mentions("only local"));
}
