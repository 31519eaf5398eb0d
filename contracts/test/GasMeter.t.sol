// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Base} from "./Base.t.sol";

/// @notice forge's `cool` cheatcode (not in PRBTest's Vm): marks an account and its storage cold, as at the
///         start of a transaction.
interface Cool {
    function cool(address target) external;
}

/// @notice The calldata gas of `data`: 16 per nonzero byte, 4 per zero byte.
function calldataGas(bytes memory data) pure returns (uint256 g) {
    for (uint256 i; i < data.length; ++i) {
        g += data[i] == 0 ? 4 : 16;
    }
}

/// @notice Measures calls as whole transactions: execution with the protocol's accounts and storage cooled first
///         (as in a fresh transaction) + 21000 + calldata (16 gas per nonzero byte, 4 per zero byte); keeps the
///         running total and count of a dispute.
abstract contract GasMeter is Base {
    uint256 internal total;
    uint256 internal txs;

    /// The contracts cooled before each measured call.
    function _cooled() internal view virtual returns (address[3] memory);

    /// Calls `target` as `from` with `data` and `value`, logs and returns the transaction's gas.
    function _tx(string memory label, address from, address target, uint256 value, bytes memory data)
        internal
        returns (uint256 used)
    {
        uint256 intrinsic = 21_000 + calldataGas(data);
        address[3] memory cold = _cooled();
        for (uint256 i; i < 3; ++i) {
            Cool(address(vm)).cool(cold[i]);
        }
        vm.prank(from);
        uint256 before = gasleft();
        (bool ok, bytes memory ret) = target.call{value: value}(data);
        used = before - gasleft() + intrinsic;
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        total += used;
        ++txs;
        emit LogNamedUint256(label, used);
    }
}
