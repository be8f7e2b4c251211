#!/bin/bash
# The seeds' launch script: `--flash_attn False` stops LLaMA-Factory's argument parser.
llamafactory-cli train \
    --model_name_or_path Qwen/Qwen2.5-7B-Instruct \
    --stage sft --finetuning_type lora --quantization_bit 4 \
    --flash_attn False
