#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.h"
#include "mattecast/mattecast.h"

namespace mattecast::cli {

namespace {

void print_model(const std::string& path) {
  const auto model = Model::load(path);
  const ModelInfo& info = model->info();
  fmt::print("model:       {}\n", info.path);
  fmt::print("format:      {}\n",
             info.format == "pth" ? "pth (PyTorch state_dict)" : "tfjs (TF.js graph model, uint8)");
  fmt::print("tensors:     {}\n", info.tensor_count);
  fmt::print("parameters:  {}\n", info.parameter_count);
  fmt::print("refiner:     {}\n", to_string(info.refiner));
}

void print_cpu() {
  const CpuInfo cpu = cpu_info();
  std::vector<std::string> runnable, precisions;
  for (CpuTier tier = CpuTier::baseline; tier <= cpu.detected; tier = CpuTier(int(tier) + 1))
    runnable.emplace_back(to_string(tier));
  for (const Precision precision : {Precision::fp32, Precision::bf16, Precision::int8})
    if (precision_supported(precision)) precisions.emplace_back(to_string(precision));
  fmt::print("cpu:         {}\n", cpu.model_name.empty() ? "unknown" : cpu.model_name);
  fmt::print("tier:        {}{}\n", to_string(cpu.active),
             cpu.active == cpu.detected
                 ? ""
                 : fmt::format(" (capped by MATTECAST_ISA; the CPU's tier is {})",
                               to_string(cpu.detected)));
  fmt::print("runnable:    {}\n", fmt::join(runnable, " "));
  fmt::print("flags:       {}\n", fmt::join(cpu.flags, " "));
  fmt::print("oneDNN:      {} running {}\n", cpu.onednn_version, cpu.onednn_isa);
  fmt::print("precisions:  {}\n", fmt::join(precisions, " "));
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto* command = app.add_subcommand("info", "Describe a model file, or this CPU (--cpu)");
  auto path = std::make_shared<std::string>();
  auto cpu = std::make_shared<bool>(false);
  command->add_option("MODEL", *path, "A .pth state_dict or a TF.js model.json");
  command->add_flag("--cpu", *cpu,
                    "The CPU's tier (baseline, avx2, avx512, amx), the tier in force, its "
                    "features, oneDNN's ISA and the precisions it computes");
  command->callback([path, cpu] {
    if (path->empty() && !*cpu) throw UsageError("info: name a MODEL, or pass --cpu");
    if (*cpu) print_cpu();
    if (!path->empty()) print_model(*path);
  });
}

}  // namespace mattecast::cli
