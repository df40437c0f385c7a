#pragma once
// Entry point of a worker process (see worker.cpp).
namespace dm::function_runner {

inline constexpr const char* kWorkerFlag = "--worker";
int worker_main(int argc, char** argv);

}  // namespace dm::function_runner
