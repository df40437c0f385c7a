# The NATS message catalogue (proto/): schemas load in RapidJSON, examples validate,
# counter-examples fail, and proto/README.md's subject table names existing schemas.
dm_test(proto_test SOURCES ${PROJECT_SOURCE_DIR}/tests/unit/proto_test.cpp DEPS dm::json dm::testing)
