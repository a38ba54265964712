#pragma once
// Checkpoint container: magic, JSON metadata, a torch archive of tensors, and a CRC-32 over
// everything, so truncation and corruption are caught before any state is touched.
// File layout: "IMXCKPT1" | u64 meta length | meta JSON | u64 archive length | archive | u32 CRC.

#include <torch/torch.h>

#include <string>

#include <nlohmann/json.hpp>

#include "infomax/config.h"

namespace infomax {

struct CheckpointFile {
  nlohmann::json meta;
  std::string archive;  // bytes of a torch::serialize archive
};

// Writes atomically (temp file, fsync, rename). Throws Error naming the path.
void writeCheckpointFile(const std::string& path, const nlohmann::json& meta,
                         const std::string& archive);
// Reads and verifies; throws Error naming the path and what is wrong with it.
CheckpointFile readCheckpointFile(const std::string& path);

// A checkpoint file as given, or the newest checkpoint of a run folder.
std::string resolveCheckpointPath(const std::string& checkpointOrRunDir);
// The run configuration stored in a checkpoint's metadata; throws Error naming the file.
TrainConfig configFromCheckpoint(const CheckpointFile& file, const std::string& path);

// Opens the tensor archive of a verified checkpoint file, with its tensors on the given device;
// throws Error "checkpoint PATH: corrupt tensor archive" when LibTorch cannot parse it.
void openArchive(const CheckpointFile& file, const std::string& path,
                 torch::serialize::InputArchive& archive, torch::Device device = torch::kCPU);

// Copies tensors from an archive into a module's parameters and buffers under a key prefix;
// any missing key or shape mismatch throws Error naming the tensor and both shapes.
void loadModuleState(torch::serialize::InputArchive& archive, torch::nn::Module& module,
                     const std::string& prefix, const std::string& origin);
void saveModuleState(torch::serialize::OutputArchive& archive, const torch::nn::Module& module,
                     const std::string& prefix);

}  // namespace infomax
