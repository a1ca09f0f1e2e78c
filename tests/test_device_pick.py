"""The automatic dtype follows what the device reports: bf16 only on CPUs that compute it natively."""

from __future__ import annotations

import pytest
import torch

from underpaint.engines.diffusers.device import CpuFacts, Placement, channels_last_parts, cpu_facts, pick_dtype

CPU = torch.device("cpu")
XEON_AMX = CpuFacts(frozenset({"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}), "AVX512")
EPYC_ZEN4 = CpuFacts(frozenset({"avx2", "avx512f", "avx512_bf16", "avx512_vnni"}), "AVX512")
EPYC_ZEN3 = CpuFacts(frozenset({"avx2", "fma", "sse4_2"}), "AVX2")
SKYLAKE_XEON = CpuFacts(frozenset({"avx2", "avx512f", "avx512_vnni"}), "AVX512")


def test_a_xeon_with_amx_gets_bf16_and_says_amx_is_why() -> None:
    assert pick_dtype(CPU, "auto", XEON_AMX) == (torch.bfloat16, "amx_bf16")


def test_a_cpu_with_avx512_bf16_but_no_amx_gets_bf16() -> None:
    assert pick_dtype(CPU, "auto", EPYC_ZEN4) == (torch.bfloat16, "avx512_bf16")


@pytest.mark.parametrize("cpu", [EPYC_ZEN3, SKYLAKE_XEON, CpuFacts(frozenset(), "DEFAULT")],
                         ids=["epyc-zen3", "avx512-without-bf16", "nothing-reported"])
def test_a_cpu_without_native_bf16_never_gets_bf16(cpu: CpuFacts) -> None:
    assert pick_dtype(CPU, "auto", cpu) == (torch.float32, "no native bf16")


def test_bf16_flags_count_for_nothing_when_torch_runs_without_its_vector_kernels() -> None:
    emulated = CpuFacts(XEON_AMX.flags, "DEFAULT")
    assert pick_dtype(CPU, "auto", emulated)[0] == torch.float32


def test_an_asked_dtype_overrides_the_pick_whatever_the_cpu() -> None:
    assert pick_dtype(CPU, "fp32", XEON_AMX) == (torch.float32, "asked")
    assert pick_dtype(CPU, "bf16", EPYC_ZEN3) == (torch.bfloat16, "asked")


def test_gpus_get_fp16_without_asking_the_cpu() -> None:
    assert pick_dtype(torch.device("mps"), "auto", EPYC_ZEN3) == (torch.float16, "GPU")


def test_an_unknown_dtype_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="fp16, bf16"):
        pick_dtype(CPU, "int4", XEON_AMX)


def test_the_placement_label_says_why_its_dtype_was_picked() -> None:
    assert Placement(CPU, torch.bfloat16, "avx512_bf16").label == "cpu/bfloat16 (avx512_bf16)"


def test_this_machines_facts_carry_torchs_own_capability_report() -> None:
    assert cpu_facts().capability == torch.backends.cpu.get_cpu_capability()


def test_channels_last_is_used_on_cuda_for_the_unet_and_vae_and_not_on_a_cpu() -> None:
    gpu = Placement(torch.device("cuda"), torch.float16, "GPU")
    cpu = Placement(CPU, torch.bfloat16, "avx512_bf16")
    assert (channels_last_parts(gpu), channels_last_parts(cpu)) == (("unet", "vae"), ())
