@echo off
rem build_vs.bat ARCH FOLDER - configure and build xshm (Release) with Visual
rem Studio; ARCH is x64 or Win32. Called by build_x64.bat and build_x86.bat.
rem CMake picks the newest Visual Studio installed; set XSHM_GENERATOR to
rem choose one, for example: set XSHM_GENERATOR=Visual Studio 16 2019
setlocal
set "ARCH=%~1"
set "FOLDER=%~2"
cd /d "%~dp0.."

where cmake >nul 2>nul
if errorlevel 1 goto :no_cmake

if defined XSHM_GENERATOR (
    cmake -S . -B "%FOLDER%" -G "%XSHM_GENERATOR%" -A %ARCH%
) else (
    cmake -S . -B "%FOLDER%" -A %ARCH%
)
if errorlevel 1 goto :configure_failed

cmake --build "%FOLDER%" --config Release
if errorlevel 1 goto :build_failed

echo.
echo xshm %ARCH%: built, output in %FOLDER%\Release\
exit /b 0

:no_cmake
echo xshm %ARCH%: cmake was not found. Install CMake 3.15 or newer, or run this
echo from a Developer Command Prompt for Visual Studio 2019 or 2022.
exit /b 1

:configure_failed
echo xshm %ARCH%: CMake could not configure %FOLDER%, see the messages above.
echo Is Visual Studio 2019 16.8 or newer installed with the C++ workload?
exit /b 1

:build_failed
echo xshm %ARCH%: the build FAILED, see the messages above.
exit /b 1
